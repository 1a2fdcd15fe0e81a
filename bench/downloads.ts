import { spawn, spawnSync, ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { BIN, Shop } from "../test/helpers/shop";

// Streaming a 1 GB product file through a download link of the real `paidup serve`, against
// nginx (Debian's package) serving the same file from the same disk in the same run. The figures
// that matter: serve's resident memory stays flat while it streams (the file is never read into
// memory), and its throughput next to a static file server's. Run: npm run build && node dist/bench/downloads.js

const SIZE = Number(process.env.BENCH_DOWNLOAD_BYTES ?? 1024 ** 3);
const ROUNDS = Number(process.env.BENCH_DOWNLOAD_ROUNDS ?? 3);
const NGINX = process.env.BENCH_NGINX ?? "/usr/sbin/nginx";

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

function writeBigFile(file: string): void {
  const block = Buffer.alloc(4 * 1024 * 1024);
  for (let i = 0; i < block.length; i++) block[i] = (i * 2654435761) >>> 24;
  const fd = fs.openSync(file, "w");
  for (let written = 0; written < SIZE; written += block.length) fs.writeSync(fd, block, 0, Math.min(block.length, SIZE - written));
  fs.closeSync(fd);
}

interface Round {
  seconds: number;
  bytes: number;
  peakRss?: number;
}

/** One download with curl (the same client for both servers), sampling `pid`'s RSS meanwhile. */
function download(url: string, pid?: number): Promise<Round> {
  return new Promise((resolve, reject) => {
    const curl = spawn("curl", ["-sS", "-o", "/dev/null", "-w", "%{time_total} %{size_download} %{http_code}", url]);
    let out = "";
    let peak = pid ? rssMiB(pid) : undefined;
    const sampler = pid ? setInterval(() => (peak = Math.max(peak as number, rssMiB(pid))), 25) : undefined;
    curl.stdout.on("data", (d: Buffer) => (out += d.toString()));
    curl.on("error", reject);
    curl.on("close", () => {
      if (sampler) clearInterval(sampler);
      const [t, n, code] = out.trim().split(" ");
      if (code !== "200" && code !== "206") return reject(new Error(`${url}: HTTP ${code}`));
      resolve({ seconds: Number(t), bytes: Number(n), peakRss: peak });
    });
  });
}

const mibps = (r: Round) => r.bytes / 1024 ** 2 / r.seconds;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const shop = await Shop.start({
    config: {
      from: "Shop <shop@example.com>",
      publicUrl: base,
      resend: { maxPerSecond: 100 },
      products: [{ key: "big", match: { metadata: { product: "big" } }, subject: "Your file", text: "templates/big.txt", downloads: { files: ["products/big.bin"], maxDownloads: 1000 } }],
    },
  });
  let serve: ChildProcess | undefined;
  let nginx: ChildProcess | undefined;
  try {
    fs.writeFileSync(path.join(shop.dir, "templates", "big.txt"), "{{#downloads}}{{name}}: {{url}}\n{{/downloads}}");
    writeBigFile(path.join(shop.dir, "products", "big.bin"));
    fs.chmodSync(shop.dir, 0o755); // nginx's worker reads it as another user
    if ((await shop.run(["init", "--since", "1h"])).code !== 0) throw new Error("init failed");
    shop.stripe.addCharge({ amount: 4900, currency: "usd", created: Math.floor(Date.now() / 1000) - 5, metadata: { product: "big" }, billing_details: { email: "bench@example.com" } });
    const r = await shop.run(["reconcile"]);
    if (r.code !== 0) throw new Error(`reconcile failed: ${r.stderr}`);
    const link = /big\.bin: (\S+)/.exec(shop.resend.sentTo("bench@example.com")[0]?.text ?? "")?.[1];
    if (!link) throw new Error("no link in the email");

    serve = spawn(process.execPath, [BIN, "serve", "--port", String(port)], { cwd: shop.dir, env: { ...shop.env, STRIPE_WEBHOOK_SECRET: "whsec_bench" }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    serve.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    await until(() => out.includes("listening on"), "serve listening");

    const nginxPort = await freePort();
    const conf = path.join(shop.dir, "nginx.conf");
    fs.writeFileSync(conf, `daemon off; worker_processes 1; pid ${shop.dir}/nginx.pid; error_log ${shop.dir}/nginx-error.log;
events { worker_connections 64; }
http { access_log off; sendfile on; server { listen 127.0.0.1:${nginxPort}; root ${shop.dir}/products; } }\n`);
    nginx = spawn(NGINX, ["-c", conf, "-p", shop.dir], { stdio: "ignore" });
    const nginxUrl = `http://127.0.0.1:${nginxPort}/big.bin`;
    await until(() => fs.existsSync(`${shop.dir}/nginx.pid`), "nginx started");

    const idleRss = rssMiB(serve.pid as number);
    const paidup: Round[] = [];
    const plain: Round[] = [];
    // Interleaved, so both see the same page cache and the same neighbours on the machine.
    await download(nginxUrl); // warms the page cache for both
    for (let i = 0; i < ROUNDS; i++) {
      paidup.push(await download(link, serve.pid));
      plain.push(await download(nginxUrl));
    }
    const afterRss = rssMiB(serve.pid as number);
    const lines = [
      `file: ${(SIZE / 1024 ** 3).toFixed(2)} GiB, ${ROUNDS} downloads each with curl, interleaved (page cache warm)`,
      "",
      "| server | median MiB/s | each download (MiB/s) |",
      "| --- | ---: | --- |",
      `| paidup serve, /d/<token> | ${median(paidup.map(mibps)).toFixed(0)} | ${paidup.map((x) => mibps(x).toFixed(0)).join(", ")} |`,
      `| ${nginxVersion()}, static file (sendfile on) | ${median(plain.map(mibps)).toFixed(0)} | ${plain.map((x) => mibps(x).toFixed(0)).join(", ")} |`,
      "",
      `paidup serve RSS: ${idleRss.toFixed(0)} MiB before; peak while streaming, per download: ${paidup.map((x) => (x.peakRss ?? 0).toFixed(0)).join(", ")} MiB; ${afterRss.toFixed(0)} MiB after`,
      `bytes served by paidup per download: ${paidup.map((x) => x.bytes).join(", ")}`,
    ];
    process.stdout.write(lines.join("\n") + "\n");
  } finally {
    nginx?.kill("SIGTERM");
    serve?.kill("SIGTERM");
    if (serve) await new Promise((r) => serve?.once("exit", r));
    await shop.close();
  }
}

function nginxVersion(): string {
  // `nginx -v` writes its version to stderr.
  const r = spawnSync(NGINX, ["-v"], { encoding: "utf8" });
  return /nginx\/[\d.]+/.exec(`${r.stdout}${r.stderr}`)?.[0] ?? "";
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${String(err)}\n`);
  process.exitCode = 1;
});
