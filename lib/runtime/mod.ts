export { type FullGc, fullGc, loadFullGc } from "./gc.ts";
// lib/runtime/libc.ts is imported by path where gc.ts (node:v8, node:vm) must not come with it.
export { errno, type Libc, libc, libcUnavailable, O } from "./libc.ts";
export { LAG_THRESHOLDS, LoopLag, procCpuWaitNs } from "./looplag.ts";
export type { LagTick } from "./looplag.ts";
