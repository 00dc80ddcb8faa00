/** Key names of what `apply` records, shared with the harness that reads them back. */
export const RECORD_KEYS = {
  calls: 'chaos:calls',
  effects: 'chaos:effects',
  rejected: 'chaos:rejected',
  callsLane: (lane: string) => `chaos:calls-lane:${lane}`,
  effectsLane: (lane: string) => `chaos:effects-lane:${lane}`,
}
