/**
 * Which property names of `src` are internal: safe for the build to shorten (see `mangle.ts` and
 * `mangle.json`). A name is internal when every place `src` uses it as a property resolves, through
 * the type checker, to a declaration in `src`; it is not a property of anything the package exports
 * (the public API, reached through types, parameters and return types); it is not part of what
 * outlives one build (stored records, messages between tabs, which another version of the app may
 * read); and no string in `src` spells it (`'x' in o`, `o['x']` are left alone by the mangler).
 */
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

/** This package's sources; `OUTBOX_PROPS_SRC` (a path ending in `/`) reads another checkout's, to size an older commit like for like. */
const SRC = process.env.OUTBOX_PROPS_SRC ?? fileURLToPath(new URL('../src/', import.meta.url))
const ENTRIES = ['index.ts', 'testing.ts', 'extension.ts']
/** The formats that outlive a build: records in storage and messages between tabs (file: type). */
const DURABLE_FORMATS: Array<[string, string]> = [
  ['record.ts', 'StoredRecord'],
  ['tab-channel.ts', 'Message'],
]

export type PropReport = {
  /** Names that may be shortened. */
  internal: Set<string>
  /** Why each other name used as a property may not be (first reason found). */
  kept: Map<string, string>
  /** Every name src uses as a property, internal or not, with how often it does. */
  used: Map<string, number>
}

export function internalProps(): PropReport {
  const files = ts.sys.readDirectory(SRC, ['.ts']).filter((f) => !f.endsWith('.d.ts'))
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
    strict: true,
    allowImportingTsExtensions: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  })
  const checker = program.getTypeChecker()
  const ours = (decl: ts.Declaration) => decl.getSourceFile().fileName.startsWith(SRC)
  const kept = new Map<string, string>()
  const keep = (name: string, why: string) => {
    if (!kept.has(name)) kept.set(name, why)
  }
  const used = new Map<string, number>()

  // Names reachable from a type: the public API and the durable formats.
  const reachable = (roots: ts.Type[], why: string) => {
    const seen = new Set<ts.Type>()
    const walk = (type: ts.Type | undefined, depth: number): void => {
      if (!type || seen.has(type) || depth > 40) return
      seen.add(type)
      if (type.isUnionOrIntersection()) for (const t of type.types) walk(t, depth + 1)
      if (type.flags & ts.TypeFlags.Object && (type as ts.ObjectType).objectFlags & ts.ObjectFlags.Reference)
        for (const arg of checker.getTypeArguments(type as ts.TypeReference)) walk(arg, depth + 1)
      // A type from elsewhere (Promise, a DOM type, a signal) has no member src names: only its
      // arguments can be ours. What src does with such members the uses themselves tell.
      const symbol = type.aliasSymbol ?? type.getSymbol()
      if (symbol?.declarations?.length && symbol.declarations.every((d) => !ours(d))) return
      for (const prop of checker.getPropertiesOfType(type)) {
        const decl = prop.valueDeclaration ?? prop.declarations?.[0]
        if (!decl || !ours(decl)) continue
        keep(prop.getName(), why)
        walk(checker.getTypeOfSymbolAtLocation(prop, decl), depth + 1)
      }
      for (const sig of [...type.getCallSignatures(), ...type.getConstructSignatures()]) {
        for (const param of sig.getParameters()) {
          const decl = param.valueDeclaration ?? param.declarations?.[0]
          if (decl) walk(checker.getTypeOfSymbolAtLocation(param, decl), depth + 1)
        }
        walk(sig.getReturnType(), depth + 1)
      }
      for (const info of checker.getIndexInfosOfType(type)) walk(info.type, depth + 1)
    }
    for (const root of roots) walk(root, 0)
  }

  const exportedTypes = (file: string) => {
    const source = program.getSourceFile(SRC + file)
    const moduleSymbol = source && checker.getSymbolAtLocation(source)
    if (!moduleSymbol) throw new Error(`internalProps: cannot read ${file}`)
    return checker.getExportsOfModule(moduleSymbol).flatMap((exported) => {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported
      const types: ts.Type[] = []
      if (symbol.flags & (ts.SymbolFlags.Type | ts.SymbolFlags.Class))
        types.push(checker.getDeclaredTypeOfSymbol(symbol))
      if (symbol.flags & ts.SymbolFlags.Value && symbol.valueDeclaration)
        types.push(checker.getTypeOfSymbolAtLocation(symbol, symbol.valueDeclaration))
      return types
    })
  }
  reachable(ENTRIES.flatMap(exportedTypes), 'public API')
  for (const [file, name] of DURABLE_FORMATS) {
    const decl = program
      .getSourceFile(SRC + file)
      ?.statements.find(
        (s): s is ts.TypeAliasDeclaration | ts.InterfaceDeclaration =>
          (ts.isTypeAliasDeclaration(s) || ts.isInterfaceDeclaration(s)) && s.name.text === name,
      )
    if (!decl) throw new Error(`internalProps: no type ${name} in ${file}`)
    reachable([checker.getTypeAtLocation(decl.name)], `stored or posted (${name})`)
  }

  /** Where a property use leads: internal when every declaration is in src and none is a literal's own. */
  const judge = (name: string, symbol: ts.Symbol | undefined, where: ts.Node) => {
    used.set(name, (used.get(name) ?? 0) + 1)
    const decls = symbol?.declarations ?? []
    if (decls.length === 0) return keep(name, `untyped use at ${position(where)}`)
    for (const decl of decls) {
      if (!ours(decl)) return keep(name, `declared outside src (${decl.getSourceFile().fileName.split('/').pop()})`)
      if (foreign(decl)) return keep(name, `describes a foreign object at ${position(decl)}`)
      // A property of an object literal with no declared type: nothing ties it to the other uses.
      if (
        (ts.isPropertyAssignment(decl) || ts.isShorthandPropertyAssignment(decl) || ts.isMethodDeclaration(decl)) &&
        ts.isObjectLiteralExpression(decl.parent)
      )
        return keep(name, `literal without a declared type at ${position(decl)}`)
    }
  }
  /**
   * A shape written in src for an object src does not make (a global, a browser API the DOM types
   * lack): inside a type assertion, or in an intersection with a type declared elsewhere.
   */
  const foreign = (decl: ts.Node): boolean => {
    for (let node: ts.Node | undefined = decl.parent; node && !ts.isSourceFile(node); node = node.parent) {
      if (ts.isAsExpression(node) || ts.isTypeAssertionExpression(node) || ts.isSatisfiesExpression(node)) return true
      if (
        ts.isIntersectionTypeNode(node) &&
        node.types.some((t) => {
          const symbol = checker.getTypeAtLocation(t).getSymbol() ?? checker.getTypeAtLocation(t).aliasSymbol
          return symbol?.declarations?.some((d) => !ours(d)) ?? false
        })
      )
        return true
    }
    return false
  }
  const position = (node: ts.Node) => {
    const source = node.getSourceFile()
    const { line } = source.getLineAndCharacterOfPosition(node.getStart())
    return `${source.fileName.slice(SRC.length)}:${line + 1}`
  }
  /** The declared property an object literal's member stands for (its contextual type's). */
  const contextual = (literal: ts.ObjectLiteralExpression, name: string) => {
    const type = checker.getContextualType(literal)
    return type && checker.getNonNullableType(type).getProperty(name)
  }

  const visit = (node: ts.Node): void => {
    // (A string in a type, `Pick<Settlement, 'load'>`, is gone at run time.)
    if (ts.isStringLiteralLike(node)) ts.isLiteralTypeNode(node.parent) || keep(node.text, 'spelt in a string')
    else if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.name))
      judge(node.name.text, checker.getSymbolAtLocation(node.name), node)
    else if (
      (ts.isPropertyAssignment(node) ||
        ts.isShorthandPropertyAssignment(node) ||
        ts.isMethodDeclaration(node) ||
        ts.isGetAccessorDeclaration(node) ||
        ts.isSetAccessorDeclaration(node)) &&
      ts.isObjectLiteralExpression(node.parent)
    ) {
      if (ts.isIdentifier(node.name)) judge(node.name.text, contextual(node.parent, node.name.text), node)
      else if (node.name && !ts.isComputedPropertyName(node.name)) keep(node.name.getText(), 'quoted key')
    } else if (ts.isBindingElement(node) && ts.isObjectBindingPattern(node.parent)) {
      const nameNode = node.propertyName ?? node.name
      if (ts.isIdentifier(nameNode))
        judge(nameNode.text, checker.getTypeAtLocation(node.parent).getProperty(nameNode.text), node)
    } else if (
      (ts.isPropertyDeclaration(node) || ts.isMethodDeclaration(node)) &&
      ts.isClassLike(node.parent) &&
      ts.isIdentifier(node.name)
    )
      keep(node.name.text, 'class member') // classes here are the public errors
    ts.forEachChild(node, visit)
  }
  for (const file of program.getSourceFiles()) if (file.fileName.startsWith(SRC)) visit(file)

  const internal = new Set([...used.keys()].filter((name) => !kept.has(name)))
  return { internal, kept, used }
}
