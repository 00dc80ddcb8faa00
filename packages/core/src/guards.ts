/** The type guards of the package: every check of data read from outside starts here. */

/** A plain JSON object (not null, not an array): the first check on anything read from outside. */
export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)
export const isString = (v: unknown): v is string => typeof v === 'string'
/** A whole number, 0 or more. */
export const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0
/** A finite number (a time or a duration in ms). */
export const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
/** Absent, or passing `check`. */
export const optional = (v: unknown, check: (v: unknown) => boolean): boolean => v === undefined || check(v)
