export { fullGc } from "./gc.ts";
