import fs from "node:fs";
import path from "node:path";
import { paidCharge, Workspace } from "./harness";
void (async () => {
  const n = Number(process.argv[2] ?? 1000);
  const ws = await Workspace.start("prof");
  const created = Math.floor(Date.now() / 1000) - 600;
  ws.stripe.bulkAddCharges(n, (i) => paidCharge(i, created - n + i));
  await ws.runOk(["init", "--since", new Date((created - n - 5) * 1000).toISOString()]);
  const dir = "/tmp/h6-prof";
  fs.rmSync(dir, { recursive: true, force: true });
  const m = await ws.runOk(["reconcile"], { nodeArgs: ["--cpu-prof", "--cpu-prof-dir", dir] });
  console.log(`wall ${m.wallMs.toFixed(0)} ms cpu ${(m.userMs + m.sysMs).toFixed(0)} ms = ${((m.userMs + m.sysMs) / n).toFixed(3)} ms/charge, sent ${ws.resend.sent.length}`);
  const file = path.join(dir, fs.readdirSync(dir)[0] as string);
  const prof = JSON.parse(fs.readFileSync(file, "utf8")) as { nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount: number; children?: number[] }[]; samples: number[]; timeDeltas: number[] };
  const total = prof.timeDeltas.reduce((a, b) => a + b, 0) / 1000;
  const self = new Map<string, number>();
  const byId = new Map(prof.nodes.map((nd) => [nd.id, nd]));
  prof.samples.forEach((id, i) => {
    const nd = byId.get(id)!;
    const key = `${nd.callFrame.functionName || "(anon)"} ${nd.callFrame.url.replace(/.*node_modules\//, "nm/").replace(/.*\/dist\//, "")}:${nd.callFrame.lineNumber}`;
    self.set(key, (self.get(key) ?? 0) + (prof.timeDeltas[i] ?? 0) / 1000);
  });
  // by package
  const pkg = new Map<string, number>();
  for (const [k, v] of self) {
    const m2 = /nm\/(@[^/]+\/[^/]+|[^/]+)/.exec(k);
    const p = m2 ? m2[1]! : k.includes("src/") ? "paidup:" + (/src\/[^:]+/.exec(k)?.[0] ?? "") : k.split(" ")[0]!;
    pkg.set(p, (pkg.get(p) ?? 0) + v);
  }
  console.log(`profile total ${total.toFixed(0)} ms`);
  for (const [k, v] of [...pkg].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${v.toFixed(1).padStart(8)} ${k}`);
  console.log("--- top self");
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${v.toFixed(1).padStart(8)} ${k}`);
  await ws.close();
})();
