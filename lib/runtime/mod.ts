export { fullGc } from "./gc.ts";
export { LAG_THRESHOLDS, LoopLag, procCpuWaitNs } from "./looplag.ts";
export type { LagTick } from "./looplag.ts";
