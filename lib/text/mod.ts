/**
 * Text from others made safe to show: {@link sanitizeText} strips terminal control sequences.
 * @module
 */
export { sanitizeDeep, sanitizeText } from "./sanitize.ts";
