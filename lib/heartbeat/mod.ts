/**
 * Heartbeat tests, a distributed dead-man's switch: jobs push `POST /v1/push/<host>/<test>` to any
 * node; nodes share each push over the signed peer API (`POST /v1/heartbeat/exchange`); the
 * `heartbeat` check fails when no push arrived within its period plus a grace, and is confirmed by
 * quorum like any other check.
 *
 * @example
 * ```ts
 * const service = new HeartbeatService({ store: new PushStore(db), self, test, peers, exchange, log, now });
 * const builtins = new Map(BUILTIN_CHECKS).set("heartbeat", createHeartbeatCheck(service.judge.bind(service)));
 * mountPush = pushRoutes({ service, log });
 * ```
 * @module
 */
export { dueBy, judgeHeartbeat, type Push } from "./judge.ts";
export { PushStore } from "./store.ts";
export { type HeartbeatDeps, HeartbeatService } from "./service.ts";
export { MAX_PUSH_BODY, PUSH_PREFIX, pushRoutes } from "./push.ts";
export {
  EXCHANGE_PATH,
  exchangeBody,
  type ExchangeItem,
  MAX_EXCHANGE_ITEMS,
  parseExchange,
} from "./wire.ts";
