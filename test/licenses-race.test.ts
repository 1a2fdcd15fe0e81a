import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ManualClock } from "../src/clock";
import { loadConfig } from "../src/config";
import { createLedger, Ledger } from "../src/ledger";
import type { Logger } from "../src/log";
import type { PassDeps } from "../src/pass/pass-deps";
import { hashKey, makeKey, newLicenseId } from "../src/licenses/keys";
import { appConfig, post, serveApp, writeAppFiles } from "./helpers/license-shop";
import { freshDatabase, postgresAvailable } from "./helpers/postgres";
import { Shop } from "./helpers/shop";

// Two hosts of one PostgreSQL ledger (two serve apps, each with its own connection pool) race
// activations for a key's last slot: exactly one wins each time. Always on real PostgreSQL.

const skip = postgresAvailable() ? false : "needs PostgreSQL's binaries (PAIDUP_PG_BIN)";
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined } as unknown as Logger;

let shop: Shop;
const ledgers: Ledger[] = [];
const hosts: Awaited<ReturnType<typeof serveApp>>[] = [];

before(async () => {
  if (skip) return;
  shop = await Shop.start({ config: appConfig() });
  writeAppFiles(shop.dir);
  const { url } = await freshDatabase();
  const config = loadConfig(shop.configPath);
  for (const host of ["a", "b"]) {
    const { ledger } = await createLedger({ dbPath: "", databaseUrl: url });
    ledgers.push(ledger);
    const deps = { ledger, config, clock: new ManualClock(Date.now()), log: quiet, mailer: null, owner: `host-${host}` } as unknown as PassDeps;
    hosts.push(await serveApp(deps, shop.stripe.url));
  }
});
after(async () => {
  for (const h of hosts) await h.app.close();
  for (const l of ledgers) await l.close();
  await shop?.close();
});

test("two hosts of one PostgreSQL ledger racing for a key's last slot: one 200 and one 400, every time", { skip }, async () => {
  const [a, b] = hosts as [Awaited<ReturnType<typeof serveApp>>, Awaited<ReturnType<typeof serveApp>>];
  for (let round = 0; round < 25; round++) {
    const key = makeKey("RACE");
    await (ledgers[0] as Ledger).issueLicense({ id: newLicenseId(), charge: `ch_race_${round}`, product: "app", key, keyHash: hashKey(key), activationLimit: 2, expiresAfterMs: null, customerId: null }, Date.now());
    const first = await post(a.url, "activate", { license_key: key, instance_name: "first" }, { ip: `10.2.${round}.1` });
    assert.equal(first.status, 200);
    const [x, y] = await Promise.all([
      post(a.url, "activate", { license_key: key, instance_name: "on-a" }, { ip: `10.2.${round}.2` }),
      post(b.url, "activate", { license_key: key, instance_name: "on-b" }, { ip: `10.2.${round}.3` }),
    ]);
    assert.deepEqual([x.status, y.status].sort(), [200, 400], `round ${round}`);
    const loser = x.status === 400 ? x : y;
    assert.match(loser.body.error, /activation limit/);
    const v = await post(b.url, "validate", { license_key: key }, { ip: `10.2.${round}.4` });
    assert.equal(v.body.license_key.activation_usage, 2);
    const instances = await (ledgers[1] as Ledger).licenseInstances(v.body.license_key.id);
    assert.equal(instances.length, 2);
  }
});

test("both hosts publish the same signing key, made once in the shared ledger", { skip }, async () => {
  const [ja, jb] = await Promise.all(hosts.map(async (h, i) => (await fetch(`${h.url}/v1/licenses/jwks.json`, { headers: { "x-forwarded-for": `10.3.0.${i}` } })).json()));
  assert.deepEqual(ja, jb);
});
