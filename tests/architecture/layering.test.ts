/**
 * The layering rules of STYLE.md, checked on the source: protocol cores are pure (no Bun, no
 * node:*, no clock, no randomness, no timers, no crypto), `core` imports only `core`, packages
 * never import apps, apps never import each other, nothing shipped imports bench/, tests/ or
 * scripts/, and those reach an app only through its package's entry points (`@ftfs/directory/
 * core`, never `../../apps/directory/src/...`). bin/ is the one binary (`ftfs server …` beside
 * the client): the only place allowed to import every app, through their entry points alone,
 * and nothing imports it.
 */
import { describe, expect, test } from "bun:test";
import { Glob } from "bun";
import { relative, resolve } from "node:path";

const REPO_ROOT = resolve(import.meta.dir, "../..");

const BANNED_IN_CORE: ReadonlyArray<[RegExp, string]> = [
  [/\bfrom\s+["']bun["']/, "imports bun"],
  [/\bBun\./, "uses Bun"],
  [/["']node:/, "imports node:*"],
  [/\bDate\b/, "reads the clock (Date)"],
  [/\bperformance\.now\b/, "reads the clock (performance.now)"],
  [/\bMath\.random\b/, "uses Math.random"],
  [/\bset(Timeout|Interval|Immediate)\b/, "uses timers"],
  [/\bcrypto\b/, "uses crypto"],
  [/\bprocess\./, "reads process state"],
];

function sourceFiles(pattern: string, withTests = false): string[] {
  return [...new Glob(pattern).scanSync({ cwd: REPO_ROOT })].filter(
    (path) => !path.includes("node_modules") && (withTests || !path.endsWith(".test.ts")),
  );
}

/** The repository path an import names (relative ones resolved), or the package specifier. */
function resolveImport(path: string, target: string): string {
  return target.startsWith(".")
    ? relative(REPO_ROOT, resolve(REPO_ROOT, path, "..", target))
    : target;
}

/** Module specifiers of import/export-from statements, side-effect imports and import(). */
function importsOf(text: string): string[] {
  const patterns = [
    /^\s*(?:import|export)\s+(?:type\s+)?(?:\*(?:\s+as\s+\w+)?|\{[^}]*\}|\w+(?:\s*,\s*\{[^}]*\})?)\s*from\s*["']([^"']+)["']/gm,
    /^\s*import\s*["']([^"']+)["']/gm,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  ];
  return patterns.flatMap((pattern) => [...text.matchAll(pattern)].map((match) => match[1] ?? ""));
}

describe("layering", () => {
  const coreFiles = [
    ...sourceFiles("packages/*/src/core/**/*.ts"),
    ...sourceFiles("apps/*/src/core/**/*.ts"),
    ...sourceFiles("bin/src/core/**/*.ts"),
  ];

  test("the import scanner sees every form of import and nothing in strings", () => {
    const sample = [
      'import { a } from "./a.ts";',
      'import type {\n  B,\n} from "../b.ts";',
      'export * from "./c.ts";',
      'import "./d.ts";',
      'const e = await import("./e.ts");',
      "const text = \"data from './not-an-import'\";",
    ].join("\n");
    expect(importsOf(sample).sort()).toEqual(["../b.ts", "./a.ts", "./c.ts", "./d.ts", "./e.ts"]);
  });

  test("there are core files to check", () => {
    expect(coreFiles.length).toBeGreaterThan(5);
  });

  test("core folders are pure", async () => {
    const violations: string[] = [];
    for (const path of coreFiles) {
      const text = (await Bun.file(resolve(REPO_ROOT, path)).text()).replace(
        /\/\*[\s\S]*?\*\/|\/\/.*$/gm,
        "",
      );
      for (const [pattern, what] of BANNED_IN_CORE)
        if (pattern.test(text)) violations.push(`${path} ${what}`);
    }
    expect(violations).toEqual([]);
  });

  test("core imports only core", async () => {
    const violations: string[] = [];
    for (const path of coreFiles) {
      for (const target of importsOf(await Bun.file(resolve(REPO_ROOT, path)).text())) {
        const local = target.startsWith(".")
          ? relative(REPO_ROOT, resolve(REPO_ROOT, path, "..", target))
          : target;
        // A package's or app's core entry point (@ftfs/protocol/core, @ftfs/directory/core) is
        // core too; bin/'s core may read the apps' rules (cluster init plans a directory group).
        const ok =
          local.includes("/src/core/") ||
          /^@ftfs\/(protocol|client|directory|storage|s3)\/core$/.test(local);
        if (!ok) violations.push(`${path} imports ${target}`);
      }
    }
    expect(violations).toEqual([]);
  });

  test("packages never import apps; apps never import each other", async () => {
    const violations: string[] = [];
    for (const path of [...sourceFiles("packages/**/*.ts"), ...sourceFiles("apps/**/*.ts")]) {
      const app = /^apps\/([^/]+)\//.exec(path)?.[1] ?? null;
      for (const target of importsOf(await Bun.file(resolve(REPO_ROOT, path)).text())) {
        const local = target.startsWith(".")
          ? relative(REPO_ROOT, resolve(REPO_ROOT, path, "..", target))
          : target;
        const targetApp =
          /^apps\/([^/]+)\//.exec(local)?.[1] ??
          /^@ftfs\/(directory|storage|s3)(\/|$)/.exec(local)?.[1] ??
          (/^ftfs(\/|$)/.test(local) ? "client" : null);
        if (targetApp !== null && targetApp !== app) violations.push(`${path} imports ${target}`);
        if (/^bin\/|^@ftfs\/bin(\/|$)/.test(local)) violations.push(`${path} imports ${target}`);
      }
    }
    expect(violations).toEqual([]);
  });

  test("bin/ reaches each app only through its package's entry points", async () => {
    const files = sourceFiles("bin/**/*.ts", true);
    expect(files.length).toBeGreaterThan(2);
    const violations: string[] = [];
    for (const path of files) {
      for (const target of importsOf(await Bun.file(resolve(REPO_ROOT, path)).text())) {
        if (resolveImport(path, target).startsWith("apps/")) {
          violations.push(`${path} imports ${target}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  test("nothing shipped imports bench, tests or scripts", async () => {
    const violations: string[] = [];
    const shipped = [
      ...sourceFiles("packages/**/*.ts", true),
      ...sourceFiles("apps/**/*.ts", true),
      ...sourceFiles("bin/**/*.ts", true),
    ];
    for (const path of shipped) {
      for (const target of importsOf(await Bun.file(resolve(REPO_ROOT, path)).text())) {
        const local = resolveImport(path, target);
        if (/^(bench|tests|scripts)\//.test(local) || local.startsWith("@ftfs/bench")) {
          violations.push(`${path} imports ${target}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  test("bench, tests and scripts reach an app only through its package's entry points", async () => {
    const outside = [
      ...sourceFiles("bench/**/*.ts", true),
      ...sourceFiles("tests/**/*.ts", true),
      ...sourceFiles("scripts/**/*.ts", true),
    ];
    expect(outside.length).toBeGreaterThan(10);
    const violations: string[] = [];
    for (const path of outside) {
      for (const target of importsOf(await Bun.file(resolve(REPO_ROOT, path)).text())) {
        if (resolveImport(path, target).startsWith("apps/")) {
          violations.push(`${path} imports ${target}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });
});
