import { execFileSync, spawn, SpawnOptions } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

// What the install and deploy tests need to act like a fresh host: a clean tree to pack, the
// systemd units and the crontab read the way systemd and cron read them, and commands run as
// another user. Paths of the deploy layout are moved under a scratch root, so that nothing
// touches the host's /etc, /var or /usr.

export const REPO = path.resolve(__dirname, "..", "..", "..");

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end and collects its output; never rejects on a non-zero exit. */
export function run(cmd: string, args: string[], opts: SpawnOptions = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/**
 * Copies what a clone of this checkout holds (tracked files and new files that git does not
 * ignore, so no dist/, state/ or .env) into `dest`, with node_modules linked rather than
 * reinstalled: `npm pack` there proves the package builds from source on prepack.
 */
export function copyCleanTree(dest: string): void {
  const listed = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: REPO });
  for (const file of listed.toString().split("\0").filter(Boolean)) {
    const from = path.join(REPO, file);
    if (!fs.existsSync(from)) continue; // deleted in the working tree, not yet committed
    fs.mkdirSync(path.dirname(path.join(dest, file)), { recursive: true });
    fs.copyFileSync(from, path.join(dest, file));
    fs.chmodSync(path.join(dest, file), fs.statSync(from).mode & 0o777);
  }
  fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dest, "node_modules"));
}

const LAYOUT = /\/usr\/local\/bin\/paidup|\/opt\/paidup|\/etc\/paidup|\/var\/lib\/paidup|\/var\/log\/paidup/g;

/** The deploy layout's absolute paths (/etc/paidup, /var/lib/paidup, …) moved under `root`. */
export function underRoot(root: string, text: string): string {
  return text.replace(LAYOUT, (p) => root + p);
}

export interface Unit {
  file: string;
  text: string;
  service: Record<string, string[]>;
}

/** A unit file's [Service] section as systemd reads it: key → values in order. */
export function readUnit(file: string): Unit {
  const text = fs.readFileSync(file, "utf8");
  const service: Record<string, string[]> = {};
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      continue;
    }
    const eq = line.indexOf("=");
    if (section !== "Service" || eq < 0) continue;
    (service[line.slice(0, eq)] ??= []).push(line.slice(eq + 1));
  }
  return { file, text, service };
}

/** An EnvironmentFile= as systemd parses the simple form: KEY=value lines, comments skipped. */
export function readEnvFile(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}

export interface CronLine {
  schedule: string;
  command: string;
}

/** A crontab as cron reads it: NAME=value settings and five time fields, then the command. */
export function readCrontab(file: string): { env: Record<string, string>; lines: CronLine[] } {
  const env: Record<string, string> = {};
  const lines: CronLine[] = [];
  for (const raw of fs.readFileSync(file, "utf8").split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const setting = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (setting) {
      env[setting[1]!] = setting[2]!;
      continue;
    }
    const fields = line.split(/\s+/);
    lines.push({ schedule: fields.slice(0, 5).join(" "), command: fields.slice(5).join(" ") });
  }
  return { env, lines };
}

/**
 * As root: `argv` as `user` with that user's groups (not root's), exec'd in place the way systemd
 * starts a service, so signals reach the program itself.
 */
export function asUser(user: string, argv: string[]): [string, string[]] {
  const gid = execFileSync("id", ["-g", user]).toString().trim();
  return ["setpriv", [`--reuid=${user}`, `--regid=${gid}`, "--init-groups", "--", ...argv]];
}

export function runAs(user: string, argv: string[], opts: SpawnOptions = {}): Promise<Ran> {
  const [cmd, args] = asUser(user, argv);
  return run(cmd, args, opts);
}
