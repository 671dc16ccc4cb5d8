// Serves files of a few folders to the demo page: event-flare's ES build (dist/esm), rxjs's ES build and
// event-source-polyfill. A browser loads `event-flare/client` as ES modules from there, with an import map.
import { createReadStream, statSync } from "node:fs";
import { extname, join, resolve, sep } from "node:path";

const TYPES = {
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".svg": "image/svg+xml",
};

const isFile = (path) => statSync(path, { throwIfNoEntry: false })?.isFile() === true;

/**
 * Answers a GET under `prefix` with the file of the same path under `dir`. Extensionless paths fall back to `.js`,
 * as rxjs's ES build imports `./internal/Observable` without one. Returns false when the URL is not under `prefix`.
 */
export function serveFolder(req, res, prefix, dir) {
  const { pathname } = new URL(req.url ?? "/", "http://x");
  if (!pathname.startsWith(prefix)) return false;
  const base = resolve(dir);
  const wanted = resolve(join(base, decodeURIComponent(pathname.slice(prefix.length))));
  const file = [wanted, `${wanted}.js`].find(isFile);
  if (!wanted.startsWith(base + sep) || file === undefined) {
    res.writeHead(404, { "Content-Type": "text/plain" }).end("not found");
    return true;
  }
  res.writeHead(200, {
    "Content-Type": TYPES[extname(file)] ?? "application/octet-stream",
    "Cache-Control": "no-cache",
  });
  createReadStream(file).pipe(res);
  return true;
}

/** Answers with one file. */
export function serveFile(res, file) {
  res.writeHead(200, {
    "Content-Type": TYPES[extname(file)] ?? "application/octet-stream",
    "Cache-Control": "no-cache",
  });
  createReadStream(file).pipe(res);
}
