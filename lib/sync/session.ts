/**
 * One pull session with one site: finish what an interrupted run left behind, connect (TLS with a
 * client certificate when configured), list, move the data files in batches (safe move with a
 * dmonitor server: the site deletes a file only after we confirmed length and SHA-256 of our
 * durable copy; LS + MV with a reference server), ingest each batch, push the site's configuration
 * if it changed, QUIT.
 *
 * Exactly once: a file is renamed into `incoming/` only when complete and fsynced (the client does
 * that), ingested in one SQLite transaction keyed by site + name + SHA-256, and deleted locally
 * only after that commits. Whatever is killed when, a file is either still on the site (moved
 * again later: the ledger recognises it), or complete in `incoming/` (ingested at the next start),
 * or ingested; a partial download is only ever a hidden temporary file, which is swept. With a
 * reference server (MV deletes before we acknowledge) each file is durable before the next MV, and
 * a complete body still under its temporary name is kept and ingested: a crash loses at most the
 * one file whose body was being received.
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { PeerError, ProtocolError } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Clock } from "../schedule/mod.ts";
import { DATA_FILE } from "../spool/agent_xml.ts";
import { sweepTemps } from "../spool/bound.ts";
import {
  checkName,
  clientOptionsFrom,
  completeTemp,
  TentacleClient,
  type TentacleClientOptions,
} from "../tentacle/mod.ts";
import { pushSiteConfig } from "./push.ts";
import type { SiteConfig, SyncSettings } from "./settings.ts";
import type { IngestOutcome, SyncStore } from "./store.ts";

export interface SessionDeps {
  store: SyncStore;
  /**
   * Ingest only while `holder` holds the site's lease (renewed by each ingest): a node that lost
   * it to another writes nothing more (a shared store).
   */
  fence?: { holder: string; ttlMs: number };
  settings: SyncSettings;
  log: Logger;
  clock: Clock;
  /** Opens the connection (default `TentacleClient.connect`); tests inject faults here. */
  connect?: (options: TentacleClientOptions) => Promise<TentacleClient>;
  /** Only ingest what is left in `incoming/` (another node drains the site); no connection. */
  leftoversOnly?: boolean;
  /** Abandons the session (the connection is dropped; nothing durable is lost). */
  signal?: AbortSignal;
}

export interface PullResult {
  /** Another process holds this site's lock: nothing was done. */
  busy: boolean;
  listed: number;
  moved: number;
  ingested: number;
  duplicates: number;
  rejected: number;
  /** Files the site refused to hand over this time (locked by another connection, ...). */
  failed: number;
  /** True when the safe move was used (a dmonitor server). */
  safe: boolean;
  /** The configuration pushed this session ("unchanged" / "none" when nothing was sent). */
  push: "pushed" | "unchanged" | "none";
  /** Newest `written at` among the files ingested, or null. */
  newestWrittenAt: number | null;
}

/** Per-site directories under the sync work directory (the name is encoded, so any name is safe). */
export function siteDirs(
  directory: string,
  site: string,
): { base: string; incoming: string; rejected: string } {
  const base = join(directory, encodeURIComponent(site));
  return { base, incoming: join(base, "incoming"), rejected: join(base, "rejected") };
}

/** Tentacle client options for a site. */
export function siteClientOptions(site: SiteConfig, s: SyncSettings): TentacleClientOptions {
  return clientOptionsFrom({
    host: site.host,
    port: site.port,
    password: s.password,
    tls: s.tls,
    timeoutMs: s.timeoutMs,
  });
}

/** Orders data file names oldest first (by the time in the name, then by name). */
export function oldestFirst(names: string[]): string[] {
  const t = (n: string) => Number(DATA_FILE.exec(n)?.[2] ?? 0);
  return [...names].sort((a, b) => t(a) - t(b) || (a < b ? -1 : a > b ? 1 : 0));
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Ingests one complete local file and removes it (moved to `rejected/` when it is not agent data).
 * `expect` (size and SHA-256 the transfer reported) guards against a local copy that differs.
 */
export async function ingestLocalFile(
  store: SyncStore,
  site: string,
  dirs: { incoming: string; rejected: string },
  name: string,
  now: number,
  expect?: { size: number; sha256: string },
  fence?: { holder: string; ttlMs: number },
): Promise<IngestOutcome> {
  const path = join(dirs.incoming, name);
  const bytes = await Deno.readFile(path);
  const hash = sha256(bytes);
  if (expect && (expect.size !== bytes.length || expect.sha256 !== hash)) {
    // Cannot happen unless the disk lies; keep the evidence and do not ingest.
    await Deno.mkdir(dirs.rejected, { recursive: true });
    await Deno.rename(path, join(dirs.rejected, `${name}.mismatch`));
    return {
      status: "rejected",
      incidents: 0,
      modules: 0,
      error: "local copy differs from what was received",
      writtenAt: null,
    };
  }
  const out = await store.ingest(site, name, bytes, hash, now, fence);
  if (out.status === "rejected") {
    await Deno.mkdir(dirs.rejected, { recursive: true });
    await Deno.rename(path, join(dirs.rejected, name));
  } else {
    await Deno.remove(path).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }
  return out;
}

/**
 * Renames complete downloads left under their temporary name (killed between the last body byte
 * and the rename; the name records the announced size, see completeTemp) into place, so that they
 * are ingested rather than swept; returns their names. A name already taken in `incoming/` is
 * handed to `ingest` first (which removes it), so neither file is lost.
 */
export async function recoverCompleteTemps(
  incoming: string,
  ingest: (name: string) => Promise<void>,
): Promise<string[]> {
  const kept: string[] = [];
  for await (const e of Deno.readDir(incoming)) {
    const c = e.isFile ? completeTemp(e.name) : null;
    if (!c || !c.name.endsWith(".data") || checkName(c.name) !== null) continue;
    const path = join(incoming, e.name);
    const st = await Deno.lstat(path).catch(() => null);
    if (!st?.isFile || st.size !== c.size) continue; // partial: swept
    const dest = join(incoming, c.name);
    if (await Deno.lstat(dest).then(() => true, () => false)) await ingest(c.name);
    using f = await Deno.open(path, { read: true, write: true });
    await f.syncData();
    await Deno.rename(path, dest);
    kept.push(c.name);
  }
  if (kept.length > 0) {
    using d = await Deno.open(incoming, { read: true });
    await d.sync();
  }
  return kept;
}

/**
 * Ingests what an interrupted run left in the site's `incoming/`: every complete file, including
 * downloads complete but still under their temporary name (a reference server has deleted its
 * copy); only partial downloads are swept. Safe without the site's lease: the ledger drops what
 * another node ingested already.
 */
export async function ingestLeftovers(
  site: string,
  dirs: { incoming: string; rejected: string },
  deps: Pick<SessionDeps, "store" | "log" | "clock" | "fence">,
  count: (o: IngestOutcome, name: string) => void = () => {},
): Promise<void> {
  const { store, log, clock } = deps;
  const one = async (name: string) =>
    count(
      await ingestLocalFile(store, site, dirs, name, clock.now(), undefined, deps.fence),
      name,
    );
  for await (const e of Deno.readDir(dirs.incoming)) {
    if (e.isFile && !e.name.startsWith(".")) await one(e.name);
  }
  for (const name of await recoverCompleteTemps(dirs.incoming, one)) {
    log.info("ingested a complete download left under its temporary name", { site, file: name });
    await one(name);
  }
  await sweepTemps(dirs.incoming, clock.now(), -1);
}

/** Runs one session with `site`. Throws PeerError/ProtocolError when the site cannot be drained. */
export async function pullSite(site: SiteConfig, deps: SessionDeps): Promise<PullResult> {
  const { store, settings, log, clock } = deps;
  const dirs = siteDirs(settings.directory, site.name);
  await Deno.mkdir(dirs.incoming, { recursive: true, mode: 0o750 });
  const result: PullResult = {
    busy: false,
    listed: 0,
    moved: 0,
    ingested: 0,
    duplicates: 0,
    rejected: 0,
    failed: 0,
    safe: false,
    push: "none",
    newestWrittenAt: null,
  };
  // One session per site across processes too (`dmonitor run` and a cron `dmonitor sync --once`).
  using lock = await Deno.open(join(dirs.base, ".lock"), { create: true, write: true });
  if (!(await lock.tryLock(true))) return { ...result, busy: true };

  const count = (o: IngestOutcome, name: string) => {
    if (o.status === "ingested") result.ingested++;
    else if (o.status === "duplicate") result.duplicates++;
    else {
      result.rejected++;
      log.warn("rejected a data file that is not complete agent data", {
        site: site.name,
        file: name,
        error: o.error,
      });
    }
    if (o.writtenAt !== null) {
      result.newestWrittenAt = Math.max(result.newestWrittenAt ?? 0, o.writtenAt);
    }
  };
  // Leftovers of an interrupted run: every complete file is ingested, including downloads that
  // are complete but still under their temporary name (a reference server has deleted its copy);
  // only partial downloads are swept.
  await ingestLeftovers(site.name, dirs, { store, log, clock, fence: deps.fence }, count);
  if (deps.leftoversOnly) return result;

  const connect = deps.connect ?? ((o: TentacleClientOptions) => TentacleClient.connect(o));
  const client = await connect(siteClientOptions(site, settings));
  const timer = setTimeout(() => {
    log.warn("session with site took too long; cut", {
      site: site.name,
      ms: settings.sessionTimeoutMs,
    });
    client.close();
  }, settings.sessionTimeoutMs);
  const abort = () => client.close();
  deps.signal?.addEventListener("abort", abort, { once: true });
  try {
    if (deps.signal?.aborted) {
      throw new PeerError(`${site.host}:${site.port}`, "Pull abandoned: stopping");
    }
    result.safe = client.safeMove;
    const names = oldestFirst(
      (await client.ls("")).filter((n) =>
        n.endsWith(".data") && !n.startsWith(".") && checkName(n) === null
      ),
    );
    result.listed = names.length;
    for (let i = 0; i < names.length; i += settings.batch) {
      const slice = names.slice(i, i + settings.batch);
      // Safe move: each batch is ingested (committed to the store) before the site is told it
      // may delete its copies, so a node killed at any point leaves every file either on the site
      // or in the store, never only on its own disk (another node can take the site over).
      const early = new Set<string>();
      const { moved, failed } = await client.mvMany(
        slice.map((name) => ({ name, dest: join(dirs.incoming, name) })),
        {
          batch: settings.batch,
          beforeConfirm: async (files) => {
            for (const f of files) {
              count(
                await ingestLocalFile(store, site.name, dirs, f.name, clock.now(), {
                  size: f.size,
                  sha256: f.sha256,
                }, deps.fence),
                f.name,
              );
              early.add(f.name);
            }
          },
        },
      );
      result.moved += moved.length;
      result.failed += failed.length;
      for (const f of failed) {
        log.debug("site kept a file for now", {
          site: site.name,
          file: f.name,
          error: f.error.message,
        });
      }
      for (const m of moved) {
        if (early.has(m.name)) continue;
        count(
          await ingestLocalFile(store, site.name, dirs, m.name, clock.now(), {
            size: m.size,
            sha256: m.sha256,
          }, deps.fence),
          m.name,
        );
      }
    }
    try {
      result.push = await pushSiteConfig(client, site.name, settings.sitesDir, log);
    } catch (e) {
      if (e instanceof PeerError) throw e;
      // A refused push (no overwrite on the site, too big) must not fail the drain.
      log.error("cannot push the configuration to the site", {
        site: site.name,
        error: (e as Error).message,
      });
    }
    await client.quit();
  } catch (e) {
    client.close();
    if (e instanceof PeerError || e instanceof ProtocolError) throw e;
    throw new PeerError(
      `${site.host}:${site.port}`,
      `Pulling from ${site.name} failed: ${(e as Error).message}`,
      { cause: e },
    );
  } finally {
    clearTimeout(timer);
    deps.signal?.removeEventListener("abort", abort);
  }
  return result;
}
