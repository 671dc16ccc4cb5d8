import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// What a user gets: `npm pack` (which runs prepack, the build) on a copy of the working tree, then `npm install` of
// the tarball into a fresh project with rxjs and @types/node beside it, then ESM/CJS loads and a strict type check
// of two consumers with no skipLibCheck. The copy keeps the build away from the repo's dist/, which other test
// files use while this one runs.
const root = fileURLToPath(new URL("..", import.meta.url));
const require = createRequire(import.meta.url);
const tsc = require.resolve("typescript/bin/tsc");
const versionOf = (name: string): string =>
  (JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;

// A nested npm must not take the outer `npm test`'s package or prefix for its own.
const env = Object.fromEntries(
  Object.entries(process.env).filter(
    ([key]) => !/^npm_(package_|lifecycle_|command$|config_local_prefix$|config_call$)/i.test(key),
  ),
);

/** Runs a command; on failure, throws with everything it printed (tsc prints its errors on stdout). */
function run(command: string, args: string[], cwd: string): string {
  try {
    return execFileSync(command, args, { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(" ")} failed in ${cwd}:\n${stdout ?? ""}${stderr ?? ""}`);
  }
}

/** Every file under `dir`, as paths relative to it with "/" separators. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((path) => statSync(join(dir, path)).isFile())
    .map((path) => path.split(sep).join("/"));
}

/** True when `path` exists inside the installed package (not beside it). */
function inPackage(path: string): boolean {
  const rel = relative(pkg, path);
  return rel !== "" && !rel.startsWith("..") && statSync(path, { throwIfNoEntry: false }) !== undefined;
}

let work: string;
let app: string;
let pkg: string; // the installed package: app/node_modules/event-flare
let packed: string[]; // the tarball's file list, as npm pack reports it

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "event-flare-package-"));

  // The working tree as git sees it (tracked and untracked, minus ignored files such as dist and node_modules).
  const checkout = join(work, "checkout");
  const tree = run("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], root).split("\0");
  const isFile = (path: string): boolean => lstatSync(join(root, path), { throwIfNoEntry: false })?.isFile() === true;
  for (const file of tree.filter((path) => path !== "" && path !== "node_modules" && isFile(path))) {
    mkdirSync(dirname(join(checkout, file)), { recursive: true });
    copyFileSync(join(root, file), join(checkout, file));
  }
  symlinkSync(join(root, "node_modules"), join(checkout, "node_modules"), "dir"); // the build's typescript

  const report = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", work], checkout)) as {
    filename: string;
    files: { path: string }[];
  }[];
  const [tarball] = report;
  if (tarball === undefined) throw new Error("npm pack reported no tarball");
  packed = tarball.files.map((file) => file.path);

  app = join(work, "app");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), `${JSON.stringify({ name: "consumer-app", private: true })}\n`);
  run(
    "npm",
    [
      "install",
      "--no-audit",
      "--no-fund",
      "--prefer-offline",
      join(work, tarball.filename),
      `rxjs@${versionOf("rxjs")}`,
      `@types/node@${versionOf("@types/node")}`,
      `fastify@${versionOf("fastify")}`, // the optional peer, for the event-flare/fastify consumer
    ],
    app,
  );
  pkg = join(app, "node_modules", "event-flare");
}, 120_000);

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe("the packed tarball, installed in a fresh project", () => {
  it("imports from ESM", () => {
    const out = run(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { BroadcastStream, EVENT_FLARE_ERROR_CODES, EventFlareError, Session } from "event-flare";
         console.log(import.meta.resolve("event-flare"));
         console.log(typeof Session, typeof BroadcastStream, new EventFlareError("INVALID_OPTION", "m").code);
         console.log(EVENT_FLARE_ERROR_CODES.length);`,
      ],
      app,
    );
    const [resolved, types, codes] = out.trim().split("\n");
    expect(fileURLToPath(resolved ?? "")).toBe(join(pkg, "dist", "esm", "index.js"));
    expect(types).toBe("function function INVALID_OPTION");
    expect(Number(codes)).toBeGreaterThan(0);
  });

  it("requires from CommonJS", () => {
    const out = run(
      process.execPath,
      [
        "-e",
        `const { BroadcastStream, EventFlareError, Session } = require("event-flare");
         console.log(require.resolve("event-flare"));
         console.log(typeof Session, typeof BroadcastStream, new EventFlareError("INVALID_OPTION", "m").code);`,
      ],
      app,
    );
    const [resolved, types] = out.trim().split("\n");
    expect(resolved).toBe(join(pkg, "dist", "cjs", "index.js"));
    expect(types).toBe("function function INVALID_OPTION");
  });

  it("type-checks ESM and CommonJS consumers with --strict and the library check on", () => {
    for (const consumer of ["consumer.mts", "consumer.cts", "transports.mts"]) {
      copyFileSync(join(root, "test", "package", consumer), join(app, consumer));
    }
    const args = ["--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--types", "node"];
    expect(args).not.toContain("--skipLibCheck");
    // tsc exits non-zero on any error, in the consumers or in the shipped .d.ts files; run() then throws with it.
    run(process.execPath, [tsc, ...args, "consumer.mts", "consumer.cts", "transports.mts"], app);
  });

  it("ships the build, its sources, the docs and the examples, and nothing else", () => {
    const unexpected = packed.filter(
      (path) => !/^(dist|src|docs|examples)\//.test(path) && !["package.json", "README.md", "LICENSE"].includes(path),
    );
    expect(unexpected).toEqual([]);
    expect(packed.filter((path) => /\.test\.|(^|\/)(test|bench|node_modules)\//.test(path))).toEqual([]);
    const wanted = ["dist/esm/index.js", "dist/cjs/index.js", "src/index.ts", "examples/node-http/server.mjs"];
    expect(wanted.filter((path) => !packed.includes(path))).toEqual([]);
  });

  it("runs no lifecycle script when installed, and says where it comes from", () => {
    const manifest = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")) as Record<string, unknown> & {
      scripts?: Record<string, string>;
    };
    const installScripts = ["preinstall", "install", "postinstall", "prepare"];
    expect(Object.keys(manifest.scripts ?? {}).filter((name) => installScripts.includes(name))).toEqual([]);
    expect(manifest).toHaveProperty("repository.url");
    expect(manifest).toHaveProperty("homepage");
    expect(manifest).toHaveProperty("bugs");
  });

  it("ships the sources every source map points at", () => {
    const maps = filesUnder(pkg).filter((path) => path.endsWith(".map"));
    expect(maps.length).toBeGreaterThan(0);
    const missing = maps.flatMap((map) => {
      const { sources, sourceRoot } = JSON.parse(readFileSync(join(pkg, map), "utf8")) as {
        sources: string[];
        sourceRoot?: string;
      };
      return sources
        .map((source) => resolve(dirname(join(pkg, map)), sourceRoot ?? "", source))
        .filter((source) => !inPackage(source))
        .map((source) => `${map} -> ${relative(pkg, source)}`);
    });
    expect(missing).toEqual([]);
  });

  it("ships what the README and the docs link to", () => {
    const pages = ["README.md", ...filesUnder(pkg).filter((path) => /^docs\/.*\.md$/.test(path))];
    const links = pages.flatMap((page) =>
      [...readFileSync(join(pkg, page), "utf8").matchAll(/\]\(([^)\s]+)\)/g)]
        .map((match) => match[1] ?? "")
        .filter((target) => !/^([a-z][a-z0-9+.-]*:|#)/i.test(target))
        .map((target) => ({ page, target, path: resolve(dirname(join(pkg, page)), target.split("#")[0] ?? "") })),
    );
    expect(links.filter(({ page, target }) => page === "README.md" && target.startsWith("examples/"))).not.toEqual([]);
    expect(links.filter(({ path }) => !inPackage(path)).map(({ page, target }) => `${page}: ${target}`)).toEqual([]);
  });
});
