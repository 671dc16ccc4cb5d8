// The size of `event-flare/client` as a browser downloads it: every module of dist/esm/client/index.js's import
// graph (rxjs, a peer dependency, not counted), each minified with terser and gzipped, as a browser fetches
// ES modules one by one; the sum is given (a bundler that joins them does a little better).
// `node scripts/client-size.mjs` prints it (build first); test/client.isolation.test.ts uses moduleGraph().
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

// Static imports and re-exports as tsc writes them (at the start of a line), side-effect imports, dynamic imports.
const IMPORT =
  /^(?:import|export)\s[^;]*?\sfrom\s*["']([^"']+)["']|^import\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/gm;

/**
 * The modules an ES module entry loads: `files` (absolute paths, entry first) and the bare or `node:` specifiers it
 * leaves to the host (`external`, with the file that imports each).
 */
export function moduleGraph(entry) {
  const files = [];
  const external = [];
  const pending = [resolve(entry)];
  while (pending.length > 0) {
    const file = pending.shift();
    if (files.includes(file)) continue;
    files.push(file);
    for (const match of readFileSync(file, "utf8").matchAll(IMPORT)) {
      const specifier = match[1] ?? match[2] ?? match[3];
      if (specifier.startsWith(".")) pending.push(resolve(dirname(file), specifier));
      else external.push({ specifier, from: file });
    }
  }
  return { files, external };
}

/** Bytes of the client, summed over its modules: as built, minified, and minified + gzipped. */
export async function clientSize(root = fileURLToPath(new URL("..", import.meta.url))) {
  const { minify } = await import("terser");
  const { files } = moduleGraph(resolve(root, "dist/esm/client/index.js"));
  const size = { modules: files.length, raw: 0, minified: 0, gzipped: 0 };
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const { code = "" } = await minify(text, { module: true, compress: true, mangle: true });
    size.raw += Buffer.byteLength(text);
    size.minified += Buffer.byteLength(code);
    size.gzipped += gzipSync(code, { level: 9 }).length;
  }
  return size;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const size = await clientSize();
  console.log(
    `event-flare/client: ${size.modules} modules, ${size.raw} B as built, ${size.minified} B minified, ` +
      `${size.gzipped} B minified + gzipped (rxjs not counted)`,
  );
}
