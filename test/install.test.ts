import assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { asUser, copyCleanTree, Ran, readCrontab, readEnvFile, readUnit, run, runAs, underRoot } from "./helpers/host";
import { paidCharge, RESEND_KEY, Shop, STRIPE_KEY } from "./helpers/shop";

// From a clean tree to a running host: `npm pack` builds and packs, `npm install -g --prefix`
// installs that tarball, and (as root, which CI is) deploy/install.sh lays out a host under a
// scratch root with a scratch service user, who then runs the very commands of the units and
// the crontab against the fake Stripe and Resend. One install serves every test here: compiling
// better-sqlite3 takes minutes.

const IS_ROOT = process.getuid?.() === 0;
const NOT_ROOT = IS_ROOT ? false : "needs root (CI runs as root): it creates a system user and sets owners; run `sudo npm test` to include it";
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "paidup-install-"));
const root = path.join(scratch, "root");
const user = `pdci${process.pid}`;
const HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
let tarball = "";
let binDir = "";
let shop: Shop;
let daemon: ChildProcess | undefined;
let installLog = "";

before(async () => {
  fs.chmodSync(scratch, 0o755); // the service user walks through it to its scratch /var/lib/paidup
  shop = await Shop.start();
  const tree = path.join(scratch, "tree");
  copyCleanTree(tree);
  const packed = await run("npm", ["pack", "--pack-destination", scratch], { cwd: tree, env: process.env });
  assert.equal(packed.code, 0, packed.stdout + packed.stderr);
  tarball = path.join(scratch, fs.readdirSync(scratch).find((f) => f.endsWith(".tgz"))!);

  // Dependencies come from npm's cache when it has them, from the registry otherwise.
  const npmEnv = { ...process.env, npm_config_prefer_offline: "true", npm_config_update_notifier: "false" };
  let installed: Ran;
  if (IS_ROOT) {
    installed = await run("sh", [path.join(tree, "deploy", "install.sh"), tarball], { env: { ...npmEnv, PAIDUP_ROOT: root, PAIDUP_USER: user } });
    binDir = path.join(root, "usr", "local", "bin");
  } else {
    installed = await run("npm", ["install", "-g", "--prefix", path.join(scratch, "prefix"), "--allow-scripts=better-sqlite3", "--no-audit", "--no-fund", tarball], { env: npmEnv });
    binDir = path.join(scratch, "prefix", "bin");
  }
  assert.equal(installed.code, 0, installed.stdout + installed.stderr);
  installLog = installed.stdout;
});

after(async () => {
  daemon?.kill("SIGKILL");
  await shop?.close();
  if (IS_ROOT) {
    await run("userdel", [user]);
    await run("groupdel", [user]); // when login.defs does not remove the user's group itself
  }
  fs.rmSync(scratch, { recursive: true, force: true });
});

test("npm pack builds the CLI on prepack and packs docs, examples and deploy files, but no tests, sources or ledger", async () => {
  const listed = await run("tar", ["-tzf", tarball]);
  const files = listed.stdout.split("\n").filter(Boolean).map((f) => f.replace(/^package\//, ""));
  for (const f of ["bin/paidup", "dist/src/cli.js", "README.md", "CHANGELOG.md", "package.json", "paidup.config.example.json", "docs/commands.md",
    "examples/templates/ship-fast.txt", "deploy/README.md", "deploy/install.sh", "deploy/paidup.service", "deploy/crontab.example", "deploy/paidup.env.example"]) {
    assert.ok(files.includes(f), `${f} is in the package`);
  }
  const unwanted = files.filter((f) => /^(dist\/(test|bench|demo)|src|test|state)\//.test(f) || (f.startsWith("bench/") && f !== "bench/RESULTS.md") ||
    f.endsWith(".ts") || f.endsWith(".map") || f === ".env");
  assert.deepEqual(unwanted, []);
});

test("the package installed with npm install -g puts a paidup on PATH that delivers against the fakes, from any working directory", async () => {
  const env = { ...shop.env, PATH: `${binDir}:${process.env.PATH}` };
  const elsewhere = fs.mkdtempSync(path.join(scratch, "cwd-"));
  const version = await run("paidup", ["--version"], { cwd: "/", env });
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout.trim(), JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")).version);
  const init = await run("paidup", ["init"], { cwd: elsewhere, env });
  assert.equal(init.code, 0, init.stdout + init.stderr);
  const charge = shop.stripe.addCharge(paidCharge());
  const pass = await run("paidup", ["reconcile"], { cwd: elsewhere, env });
  assert.equal(pass.code, 0, pass.stdout + pass.stderr);
  assert.deepEqual(shop.resend.sent.map((s) => s.idempotencyKey), [`paidup-${charge.id}`]);
  assert.equal(shop.row(charge.id)?.state, "delivered");
});

// ---- the host layout of deploy/README.md, run as root with a scratch user and a scratch root ----

const asRoot = (p: string) => path.join(root, p);
const mode = (p: string) => fs.statSync(asRoot(p)).mode & 0o777;
const owner = (p: string) => {
  const st = fs.statSync(asRoot(p));
  return `${st.uid}:${st.gid}`;
};
/** The service user's environment as cron or systemd sets it: nothing of the test's own. */
const userEnv = (extra: Record<string, string> = {}) => ({ HOME: asRoot("var/lib/paidup"), LANG: "C.UTF-8", ...extra });

test("deploy/install.sh lays out the host: a private working directory, a log directory, keys readable by the service user and nobody else", { skip: NOT_ROOT }, async (t) => {
  for (const line of installLog.split("\n").filter((l) => l.startsWith("==> "))) t.diagnostic(line);
  const uid = (await run("id", ["-u", user])).stdout.trim();
  const gid = (await run("id", ["-g", user])).stdout.trim();
  assert.equal(mode("var/lib/paidup"), 0o700);
  assert.equal(owner("var/lib/paidup"), `${uid}:${gid}`);
  assert.equal(owner("var/log/paidup"), `${uid}:${gid}`);
  assert.equal(mode("etc/paidup"), 0o750);
  assert.equal(mode("etc/paidup/paidup.env"), 0o640);
  assert.equal(owner("etc/paidup/paidup.env"), `0:${gid}`);
  assert.equal(fs.realpathSync(asRoot("var/lib/paidup/.env")), asRoot("etc/paidup/paidup.env"));

  // The operator's steps: the keys into the env file, the shop's files into the working directory.
  fs.writeFileSync(asRoot("etc/paidup/paidup.env"), [
    `STRIPE_SECRET_KEY=${STRIPE_KEY}`, `RESEND_API_KEY=${RESEND_KEY}`,
    `STRIPE_API_BASE=${shop.stripe.url}`, `RESEND_BASE_URL=${shop.resend.url}`, "",
  ].join("\n"));
  assert.equal(mode("etc/paidup/paidup.env"), 0o640, "writing the keys kept the mode");
  for (const f of ["paidup.config.json", "templates", "products"]) fs.cpSync(path.join(shop.dir, f), asRoot(`var/lib/paidup/${f}`), { recursive: true });
  assert.equal((await run("chown", ["-R", `${user}:${user}`, asRoot("var/lib/paidup")])).code, 0);

  const byUser = await runAs(user, ["cat", asRoot("var/lib/paidup/.env")], { env: userEnv() });
  assert.equal(byUser.code, 0, byUser.stderr);
  const byOther = await runAs("nobody", ["cat", asRoot("etc/paidup/paidup.env")], { env: userEnv() });
  assert.notEqual(byOther.code, 0, "another user cannot read the keys");
});

test("the service user runs init and check with paidup from PATH, and init leaves state/ at 0700", { skip: NOT_ROOT }, async () => {
  const cwd = asRoot("var/lib/paidup");
  const env = userEnv({ PATH: `${binDir}:/usr/bin:/bin` });
  const init = await runAs(user, ["paidup", "init"], { cwd, env });
  assert.equal(init.code, 0, init.stdout + init.stderr);
  assert.equal(mode("var/lib/paidup/state"), 0o700);
  assert.equal(mode("var/lib/paidup/state/paidup.db"), 0o600);
  const check = await runAs(user, ["paidup", "check"], { cwd, env });
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /all checks passed/);
});

/** Runs a unit's ExecStart= the way systemd would: its user, working directory and environment. */
function startUnit(name: string): ChildProcess {
  const unit = readUnit(path.join(__dirname, "..", "..", "deploy", name));
  const s = unit.service;
  assert.equal(s.User?.[0], "paidup");
  const env: Record<string, string> = userEnv({ PATH: HOST_PATH, USER: user, LOGNAME: user });
  for (const file of s.EnvironmentFile ?? []) Object.assign(env, readEnvFile(underRoot(root, file)));
  for (const e of s.Environment ?? []) env[e.slice(0, e.indexOf("="))] = e.slice(e.indexOf("=") + 1);
  const argv = underRoot(root, s.ExecStart![0]!).split(/\s+/);
  const [cmd, args] = asUser(user, argv);
  return spawn(cmd, args, { cwd: underRoot(root, s.WorkingDirectory![0]!), env, stdio: ["ignore", "pipe", "pipe"] });
}

function finished(child: ChildProcess): Promise<Ran> {
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
}

test("the timer's oneshot unit and the status unit run their ExecStart as the service user and deliver", { skip: NOT_ROOT }, async () => {
  const charge = shop.stripe.addCharge(paidCharge({ billing_details: { email: "unit@example.com", name: "Una" } }));
  const pass = await finished(startUnit("paidup-reconcile.service"));
  assert.equal(pass.code, 0, pass.stdout + pass.stderr);
  assert.equal(shop.resend.sentTo("unit@example.com").length, 1, `delivered ${charge.id}`);
  const status = await finished(startUnit("paidup-status.service"));
  assert.equal(status.code, 0, status.stdout + status.stderr);
});

test("the daemon unit is restarted after any failure, a configuration error (exit 2) included, and never given up on", () => {
  const unit = readUnit(path.join(__dirname, "..", "..", "deploy", "paidup.service"));
  assert.deepEqual(unit.service.Restart, ["on-failure"]);
  // A config edited with a mistake while the daemon ran would otherwise keep it down after any restart.
  assert.ok(!(unit.service.RestartPreventExitStatus ?? []).some((v) => v.split(/\s+/).includes("2")), "exit 2 is restarted too");
  assert.match(unit.text, /^StartLimitIntervalSec=0$/m);
});

test("the daemon unit's ExecStart starts as the service user and stops cleanly (exit 0) on SIGTERM", { skip: NOT_ROOT }, async () => {
  daemon = startUnit("paidup.service");
  const done = finished(daemon);
  let seen = "";
  await new Promise<void>((resolve, reject) => {
    const look = (d: Buffer) => {
      seen += d.toString();
      if (/daemon started/.test(seen)) resolve();
    };
    daemon!.stdout!.on("data", look);
    daemon!.stderr!.on("data", look);
    daemon!.on("close", () => reject(new Error(`the daemon exited before it started: ${seen}`)));
  });
  daemon.kill("SIGTERM");
  const stopped = await done;
  assert.equal(stopped.code, 0, seen + stopped.stdout + stopped.stderr);
  daemon = undefined;
});

test("the crontab's lines run as the service user: keys from .env, paidup on cron's PATH, the pass logged to /var/log/paidup", { skip: NOT_ROOT }, async () => {
  const crontab = readCrontab(path.join(__dirname, "..", "..", "deploy", "crontab.example"));
  const [pass, monitor] = crontab.lines;
  assert.ok(pass && monitor, "a pass line and a monitor line");
  for (const line of crontab.lines) assert.doesNotMatch(line.command, /(^|[^\\])%/, "no unescaped % (cron turns it into a newline)");
  // cron's environment: the crontab's settings, HOME and LOGNAME from the user, nothing else.
  const env = userEnv({ SHELL: crontab.env.SHELL!, PATH: `${binDir}:${crontab.env.PATH}`, LOGNAME: user });
  const charge = shop.stripe.addCharge(paidCharge({ billing_details: { email: "cron@example.com", name: "Cro" } }));
  const ran = await runAs(user, [crontab.env.SHELL!, "-c", underRoot(root, pass.command)], { cwd: "/", env });
  assert.equal(ran.code, 0, ran.stdout + ran.stderr);
  assert.equal(ran.stdout + ran.stderr, "", "the pass writes to its log, so cron mails nothing");
  assert.equal(shop.resend.sentTo("cron@example.com").length, 1, `delivered ${charge.id}`);
  assert.match(fs.readFileSync(asRoot("var/log/paidup/reconcile.log"), "utf8"), /\S/);
  const watched = await runAs(user, [crontab.env.SHELL!, "-c", underRoot(root, monitor.command)], { cwd: "/", env });
  assert.equal(watched.code, 0, watched.stdout + watched.stderr);
  assert.equal(watched.stdout, "", "nothing stuck: the monitor prints nothing and cron mails nothing");
});

test("systemd-analyze verify accepts every unit, with the paths the test ran them with", { skip: NOT_ROOT }, async (t) => {
  const which = await run("sh", ["-c", "command -v systemd-analyze"]);
  if (which.code !== 0) {
    t.skip("systemd-analyze is not installed (Debian package systemd; .ci/run installs it)");
    return;
  }
  const dir = fs.mkdtempSync(path.join(scratch, "units-"));
  const units = fs.readdirSync(path.join(__dirname, "..", "..", "deploy")).filter((f) => /\.(service|timer)$/.test(f));
  for (const u of units) {
    const text = fs.readFileSync(path.join(__dirname, "..", "..", "deploy", u), "utf8");
    fs.writeFileSync(path.join(dir, u), underRoot(root, text).replace(/^(User|Group)=paidup$/gm, `$1=${user}`));
  }
  const verified = await run("systemd-analyze", ["verify", "--man=no", ...units], { cwd: dir });
  assert.equal(verified.code, 0, verified.stderr);
  assert.equal(verified.stderr.trim(), "", "no warnings either");
});
