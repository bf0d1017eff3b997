/**
 * The node's HTTP listener (default 0.0.0.0:2929): one Hono app serving liveness now, and the peer
 * API, status page and metrics as those parts mount their routes.
 * @module
 */
import { Hono } from "hono";
import type { Logger } from "../log/mod.ts";

/** Builds the app; `mount` lets other parts add their routes. */
export function createNodeApp(opts: { mount?: ((app: Hono) => void)[] } = {}): Hono {
  const app = new Hono();
  app.get("/healthz", (c) => c.text("ok\n"));
  for (const m of opts.mount ?? []) m(app);
  return app;
}

export interface NodeServer {
  addr: { hostname: string; port: number };
  shutdown(): Promise<void>;
}

/** Starts listening; throws one clear Error naming the address when it cannot. */
export function serveNodeApp(
  app: Hono,
  listen: { hostname: string; port: number },
  logger: Logger,
): NodeServer {
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: listen.hostname,
      port: listen.port,
      onListen: () => {},
      onError: (e) => {
        logger.error("request failed", { error: (e as Error).message });
        return new Response("internal error\n", { status: 500 });
      },
    }, app.fetch);
  } catch (e) {
    const why = e instanceof Deno.errors.AddrInUse
      ? "address already in use"
      : e instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : e instanceof Deno.errors.AddrNotAvailable
      ? "address not available on this machine"
      : (e as Error).message;
    throw new Error(
      `Cannot listen on ${listen.hostname}:${listen.port} ('listen' in dmonitor.yaml): ${why}`,
      { cause: e },
    );
  }
  return { addr: server.addr, shutdown: () => server.shutdown() };
}
