import '../styles.css'
import { mount } from 'svelte'
import { boot } from '../boot.ts'
import App from './App.svelte'

mount(App, { target: document.getElementById('app') as HTMLElement, props: { pg: boot('svelte') } })
