import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import { EmailChannel, WebhookChannel } from "../src/alerts";
import { recordEmailEvent } from "../src/pass/email-status";
import { FakeChat } from "./fakes/fake-chat";
import { inProcess, InProcess } from "./helpers/in-process";
import { paidCharge, Shop } from "./helpers/shop";

// The owner hears it even when email is what broke: every alert also goes to a chat webhook,
// each channel gets each alert once, and the one that failed is tried again after later passes.
// Real passes (runPass, as the CLI runs them) in-process on a ManualClock against the fakes,
// and the real CLI where exit codes and log lines matter.

process.env.NODE_ENV = "production"; // keeps the Resend SDK's console.error quiet

const OWNER = "owner@example.com";
let shop: Shop;
let slack: FakeChat;
let discord: FakeChat;
before(async () => {
  shop = await Shop.start({ config: { alertTo: OWNER, stuckAfter: "15m", retry: { maxAttempts: 50, delays: ["1m"] } } });
  [slack, discord] = await Promise.all([new FakeChat("slack").start(), new FakeChat("discord").start()]);
});
after(async () => Promise.all([shop.close(), slack.close(), discord.close()]));
beforeEach(() => shop.resend.clearFaults());

const base = Math.floor(Date.now() / 1000) - 1000;
let seq = 0;
function charge(extra: Record<string, unknown> = {}) {
  seq++;
  return shop.stripe.addCharge(paidCharge({ id: `ch_hook_${seq}`, created: base + seq, billing_details: { email: `h${seq}@example.com`, name: "H" }, ...extra }));
}
async function pass(chat: FakeChat, startLine: number): Promise<InProcess> {
  const p = await inProcess(shop, { startLine });
  p.deps.alertChannels = [new EmailChannel(p.mailer, p.deps.config.from, OWNER), new WebhookChannel(chat.url)];
  return p;
}
const ownerEmailsAbout = (id: string) => shop.resend.sentTo(OWNER).filter((e) => (e.text ?? "").includes(id));

test("Resend failing every send for longer than stuckAfter: the webhook gets one alert naming the stuck charges, the email alert fails, later passes repeat nothing on the webhook, and once Resend is back the email alert goes out once", async () => {
  const [a, b] = [charge(), charge()];
  const p = await pass(slack, a.created);
  const before = slack.taken.length;
  try {
    shop.resend.addFault({ method: "POST", path: "/emails", kind: "status", status: 500, times: Infinity });
    await p.runPass();
    assert.equal((await p.row(a.id))?.state, "retrying");
    assert.equal((await p.row(b.id))?.state, "retrying");
    assert.equal(slack.taken.length, before + 1, "the webhook heard it on the first pass");
    const alert = slack.taken.at(-1) as { text: string; paidup: { kind: string; charges: string[] } };
    assert.deepEqual(alert.paidup, { kind: "stuck", charges: [a.id, b.id] });
    assert.match(alert.text, /^\[paidup\] 2 charge\(s\) stuck/);
    assert.match(alert.text, new RegExp(`${a.id}\\s+retrying`));
    assert.match(alert.text, new RegExp(`${b.id}\\s+retrying`));
    assert.equal(ownerEmailsAbout(a.id).length, 0, "Resend is down: the email alert failed");

    // Twenty minutes of passes, longer than stuckAfter, with Resend still refusing every send.
    const alertTries = () => shop.resend.requests.filter((r) => r.idempotencyKey?.startsWith("paidup-alert-")).length;
    const triesBefore = alertTries();
    for (let i = 0; i < 20; i++) {
      p.clock.advance(61_000);
      await p.runPass();
    }
    assert.equal(slack.taken.length, before + 1, "later passes repeat nothing on the webhook");
    assert.ok(alertTries() >= triesBefore + 20, `the email alert is tried again after each pass (${alertTries() - triesBefore} tries)`);
    assert.equal(ownerEmailsAbout(a.id).length, 0);

    shop.resend.clearFaults();
    p.clock.advance(61_000);
    await p.runPass();
    assert.equal((await p.row(a.id))?.state, "delivered");
    assert.equal(ownerEmailsAbout(a.id).length, 1, "Resend is back: the email alert goes out");
    assert.match(ownerEmailsAbout(a.id)[0]?.subject ?? "", /\[paidup\] 2 charge\(s\) stuck/);
    assert.ok((ownerEmailsAbout(a.id)[0]?.text ?? "").includes(b.id));
    for (let i = 0; i < 3; i++) {
      p.clock.advance(61_000);
      await p.runPass();
    }
    assert.equal(ownerEmailsAbout(a.id).length, 1, "once");
    assert.equal(slack.taken.length, before + 1);
  } finally {
    await p.close();
  }
});

test("the webhook failing does not hold back the email; the webhook gets the alert after a later pass, once", async () => {
  const c = charge({ metadata: {} });
  const p = await pass(slack, c.created);
  const before = slack.taken.length;
  try {
    slack.failing = 2;
    await p.runPass();
    assert.equal((await p.row(c.id))?.state, "needs_review");
    assert.equal(ownerEmailsAbout(c.id).length, 1, "the email went out");
    assert.equal(slack.taken.length, before);
    await p.runPass();
    assert.equal(slack.taken.length, before, "still failing: a 500 is not taken");
    await p.runPass();
    assert.equal(slack.taken.length, before + 1, "taken after the chat came back");
    await p.runPass();
    assert.equal(slack.taken.length, before + 1);
    assert.equal(ownerEmailsAbout(c.id).length, 1);
  } finally {
    slack.failing = 0;
    await p.close();
  }
});

test("a charge newly stuck and one newly bounced in the same pass go out as two alerts, one kind each, on both channels", async () => {
  const bouncing = charge();
  const p = await pass(slack, bouncing.created);
  try {
    await p.runPass();
    const row = await p.row(bouncing.id);
    assert.equal(row?.state, "delivered");
    // Created now, after the first pass's listing: the next pass lists it.
    const stuck = charge({ metadata: {}, created: Math.floor(Date.now() / 1000) });
    p.clock.advance(5_000);
    await recordEmailEvent(p.deps, { id: `evt_bounce_${bouncing.id}`, emailId: row?.email_id as string, type: "email.bounced", at: p.clock.now(), detail: "mailbox does not exist", source: "webhook" });
    const before = slack.taken.length;
    await p.runPass();
    const kinds = slack.taken.slice(before).map((t) => t.paidup as { kind: string }).sort((x, y) => x.kind.localeCompare(y.kind));
    assert.deepEqual(kinds, [{ kind: "bounced", charges: [bouncing.id] }, { kind: "stuck", charges: [stuck.id] }]);
    assert.match(ownerEmailsAbout(bouncing.id)[0]?.subject ?? "", /\[paidup\] 1 delivery email\(s\) bounced/);
    assert.doesNotMatch(ownerEmailsAbout(bouncing.id)[0]?.text ?? "", new RegExp(stuck.id));
    assert.match(ownerEmailsAbout(stuck.id)[0]?.subject ?? "", /\[paidup\] 1 charge\(s\) stuck/);
  } finally {
    await p.close();
  }
});

test("a Discord-shaped webhook shows an alert too long for it cut to 2,000 characters; a Slack-shaped one shows it whole", async () => {
  const charges = Array.from({ length: 15 }, () => charge({ metadata: {} }));
  for (const chat of [slack, discord]) {
    const p = await pass(chat, charges[0]?.created as number);
    const before = chat.taken.length;
    try {
      await p.runPass();
      assert.equal(chat.taken.length, before + 1, `${chat.service} took it`);
      const body = chat.taken.at(-1) as { text: string; content: string; paidup: { kind: string; charges: string[] } };
      assert.equal(body.paidup.kind, "stuck");
      for (const c of charges) assert.ok(body.paidup.charges.includes(c.id), `paidup.charges names ${c.id}`);
      assert.ok(body.text.length > 2000, "the whole alert is longer than Discord takes");
      assert.ok(body.content.length <= 2000);
      assert.match(body.content, new RegExp(`^\\[paidup\\] ${body.paidup.charges.length} charge\\(s\\) stuck`));
      assert.match(body.content, /cut to fit: paidup status lists everything\)$/);
    } finally {
      await p.close();
    }
  }
  for (const c of charges) assert.ok((slack.shown.at(-1) as string).includes(c.id), `Slack shows ${c.id}`);
  assert.match(discord.shown.at(-1) as string, /^\[paidup\] \d+ charge\(s\) stuck/);
  assert.ok((discord.shown.at(-1) as string).includes(charges[0]?.id as string));
});

test("a PAIDUP_ALERT_WEBHOOK_URL that is not an http(s) URL is exit 2 from reconcile, daemon, serve and check, in one line", async () => {
  for (const bad of ["ftp://hooks.example.com/x", "hooks.slack.com/services/T/B/x"]) {
    for (const args of [["reconcile"], ["reconcile", "--dry-run"], ["daemon"], ["serve"], ["check"]]) {
      const r = await shop.run(args, { env: { PAIDUP_ALERT_WEBHOOK_URL: bad, STRIPE_WEBHOOK_SECRET: "whsec_test_secret_for_serve" } });
      assert.equal(r.code, 2, `${args.join(" ")} with ${bad}: ${r.stderr}${r.stdout}`);
      assert.match(r.stderr + r.stdout, /PAIDUP_ALERT_WEBHOOK_URL is not an http\(s\) URL/);
    }
  }
});

test("a failing webhook never fails the pass, and its log lines show the host only, never the path or query", async () => {
  const hook = new FakeChat("slack", "/services/T0LOG/B0LOG/pathSecretToken789?key=querySecret123");
  await hook.start();
  try {
    hook.failing = 100;
    const ok = charge();
    assert.equal((await shop.run(["init", "--since", "1h"])).code, 0);
    const r = await shop.run(["reconcile"], { env: { PAIDUP_ALERT_WEBHOOK_URL: hook.url, LOG_LEVEL: "info" } });
    assert.equal(shop.row(ok.id)?.state, "delivered");
    // The other charges of this file are stuck (exit 1); the webhook's failure adds nothing to it.
    assert.ok(r.code === 0 || r.code === 1, r.stderr);
    assert.ok(hook.requests.length >= 1, "the webhook was tried");
    assert.match(r.stderr, /alert through the webhook at 127\.0\.0\.1:\d+ failed; it is tried again after the next pass/);
    for (const secret of ["pathSecretToken789", "querySecret123", "/services/T0LOG"]) assert.ok(!(r.stderr + r.stdout).includes(secret), `no ${secret} in the output:\n${r.stderr}`);

    const check = await shop.run(["check"], { env: { PAIDUP_ALERT_WEBHOOK_URL: hook.url } });
    assert.match(check.stdout, /✓ alert webhook: alerts are also POSTed to the webhook at 127\.0\.0\.1:\d+/);
    assert.ok(!check.stdout.includes("pathSecretToken789"));
  } finally {
    await hook.close();
  }
});

test("passes failing for longer than staleAfter: one stale alert with no charges on the webhook and by email, once per failing streak", async () => {
  const p = await pass(discord, Math.floor(Date.now() / 1000) - 60);
  const before = discord.taken.length;
  const staleEmails = () => shop.resend.sentTo(OWNER).filter((e) => e.subject === "[paidup] passes are failing").length;
  const emailsBefore = staleEmails();
  try {
    await p.runPass();
    shop.stripe.addFault({ method: "GET", path: "/v1/charges", kind: "status", status: 500, times: Infinity });
    for (let i = 0; i < 15; i++) {
      p.clock.advance(61_000); // the default staleAfter is 10m
      await assert.rejects(p.runPass());
    }
    // (A charge of an earlier test may be stuck in this fresh ledger: its own alert is not this one.)
    const stale = discord.taken.slice(before).filter((t) => (t.paidup as { kind: string }).kind === "stale");
    assert.equal(stale.length, 1, `one alert for the streak, not one per failed pass: ${JSON.stringify(stale.map((s) => s.paidup))}`);
    assert.deepEqual(stale[0]?.paidup, { kind: "stale", charges: [] });
    assert.match(discord.shown.at(-1) as string, /^\[paidup\] passes are failing\n\npaidup passes are failing and the last successful pass finished /);
    assert.equal(staleEmails(), emailsBefore + 1);
  } finally {
    shop.stripe.clearFaults();
    await p.close();
  }
});
