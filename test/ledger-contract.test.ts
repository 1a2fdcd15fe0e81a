import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { ChargeFacts, LEASE_MS, Ledger, SAFE_REPLAY_MS } from "../src/ledger";
import { STATE } from "../src/states";
import { backends } from "./helpers/ledgers";

// The ledger's operations, run unchanged against every backend: what the pass relies on must
// hold whichever database keeps the promises.

const NOW = 1_790_000_000_000;
let seq = 0;
const facts = (extra: Partial<ChargeFacts> = {}): ChargeFacts => ({ id: `ch_contract_${++seq}`, created: 1_790_000_000, amount: 4900, currency: "usd", email: "a@example.com", ...extra });
/** A charge of one product, as most charges are. */
const one = (payload = "{}") => [{ product: "p", payload }];
const failure = (at: number) => ({ error: "Resend server error", outcomeUnknown: false, next: { state: STATE.retrying, at, reason: "Resend server error" } });

for (const backend of backends()) {
  describe(`the ledger on ${backend.name}`, () => {
    after(() => backend.cleanup());
    let ledger: Ledger;
    const fresh = async () => (ledger = await backend.fresh());

    test("ten claims of one charge at once make exactly one sender", async () => {
      await fresh();
      const f = facts();
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => ledger.claim(f, one("{}"), `owner-${i}`, NOW)));
      assert.equal(results.filter((r) => r.kind === "claimed").length, 1);
      const row = await ledger.getCharge(f.id);
      assert.equal(row?.state, STATE.sending);
      assert.equal(row?.lease_until, NOW + LEASE_MS);
    });

    test("six claims at once of each of 30 retries that are due make exactly one sender per charge", async () => {
      await fresh();
      const due = Array.from({ length: 30 }, () => facts());
      for (const f of due) {
        await ledger.claim(f, one(), "first", NOW);
        await ledger.commitFailure(f.id, "p", "first", failure(NOW + 60_000), NOW + 1);
      }
      const results = await Promise.all(due.flatMap((f) => Array.from({ length: 6 }, (_, i) => ledger.claim(f, one(), `owner-${i}`, NOW + 60_000).then((r) => ({ id: f.id, kind: r.kind })))));
      const winners = new Map<string, number>();
      for (const r of results) if (r.kind === "claimed") winners.set(r.id, (winners.get(r.id) ?? 0) + 1);
      assert.equal(winners.size, 30);
      assert.ok([...winners.values()].every((n) => n === 1), "no charge has two senders");
    });

    test("a live lease is not claimable, an expired one is retaken with the first payload and an unknown attempt", async () => {
      await fresh();
      const f = facts();
      assert.equal((await ledger.claim(f, one('{"v":1}'), "dead", NOW)).kind, "claimed");
      assert.equal((await ledger.claim(f, one('{"v":2}'), "other", NOW + LEASE_MS - 1)).kind, "not_claimable");
      const retake = await ledger.claim(f, one('{"v":2}'), "other", NOW + LEASE_MS + 1);
      // The first try may have gone out: no request of this claim may start 23 h after it.
      assert.deepEqual(retake, { kind: "claimed", claimed: [{ product: "p", sendKey: `paidup-${f.id}`, payload: '{"v":1}', retake: true, replayDeadline: NOW + SAFE_REPLAY_MS }] });
      const row = await ledger.getCharge(f.id);
      assert.equal(row?.lease_owner, "other");
      assert.equal(row?.outcome_unknown, 1);
      assert.deepEqual((await ledger.attempts(f.id)).map((a) => a.outcome), ["unknown"]);
    });

    test("only the lease holder's failure moves the row; a delivery is never undone by a late loser", async () => {
      await fresh();
      const f = facts();
      await ledger.claim(f, one("{}"), "winner", NOW);
      await ledger.commitFailure(f.id, "p", "loser", failure(NOW + 60_000), NOW + 1);
      assert.equal((await ledger.getCharge(f.id))?.state, STATE.sending);
      await ledger.commitDelivered(f.id, "p", "em_1", NOW + 2);
      await ledger.commitFailure(f.id, "p", "winner", failure(NOW + 60_000), NOW + 3);
      const row = await ledger.getCharge(f.id);
      assert.equal(row?.state, STATE.delivered);
      assert.equal(row?.email_id, "em_1");
    });

    test("a failed send waits for its time, then is claimable again by anyone", async () => {
      await fresh();
      const f = facts();
      await ledger.claim(f, one("{}"), "a", NOW);
      await ledger.commitFailure(f.id, "p", "a", failure(NOW + 60_000), NOW + 1);
      const row = await ledger.getCharge(f.id);
      assert.equal(row?.state, STATE.retrying);
      assert.equal(row?.next_attempt_at, NOW + 60_000);
      assert.equal(row?.failed_sends, 1);
      assert.equal((await ledger.claim(f, one("{}"), "b", NOW + 59_999)).kind, "not_claimable");
      assert.equal((await ledger.claim(f, one("{}"), "b", NOW + 60_000)).kind, "claimed");
    });

    test("the database itself refuses delivered without an email id, and edits of the attempt history", async () => {
      await fresh();
      const f = facts();
      await ledger.claim(f, one(), "a", NOW);
      await ledger.commitFailure(f.id, "p", "a", failure(NOW + 1), NOW);
      await ledger.requeue(f.id, "note", NOW);
      await assert.rejects(ledger.transaction((tx) => tx.commitDelivered(f.id, "p", null as unknown as string, NOW)));
      assert.equal((await ledger.getCharge(f.id))?.state, STATE.retrying, "the failed transaction left nothing behind");
      assert.equal((await ledger.attempts(f.id)).length, 2);
    });

    test("recordState inserts once and moves a row only from the states it names", async () => {
      await fresh();
      const f = facts();
      assert.equal(await ledger.recordState(f, STATE.awaitingPayment, {}, [], NOW), true);
      assert.equal(await ledger.recordState(f, STATE.skipped, { reason: "r" }, [STATE.retrying], NOW), false);
      assert.equal(await ledger.recordState(f, STATE.skipped, { reason: "refunded" }, [STATE.awaitingPayment], NOW + 5), true);
      const row = await ledger.getCharge(f.id);
      assert.equal(row?.state, STATE.skipped);
      assert.equal(row?.state_since, NOW + 5);
      assert.equal(await ledger.getState("ch_nope"), undefined);
    });

    test("stuck lists retrying, needs_review and old sends; alerts are marked once", async () => {
      await fresh();
      const a = facts();
      const b = facts();
      const c = facts();
      await ledger.recordState(a, STATE.needsReview, { reason: "no product" }, [], NOW);
      await ledger.claim(b, one("{}"), "x", NOW);
      await ledger.claim(c, one("{}"), "x", NOW + 10_000);
      await ledger.commitDelivered(c.id, "p", "em", NOW + 10_001);
      assert.deepEqual((await ledger.stuck(NOW + 1)).map((r) => r.id), [a.id, b.id]);
      assert.deepEqual((await ledger.stuck(NOW)).map((r) => r.id), [a.id]);
      await ledger.markAlerted([a.id]);
      assert.deepEqual((await ledger.unalertedStuck(NOW + 1)).map((r) => r.id), [b.id]);
      assert.deepEqual((await ledger.openCharges()).map((r) => r.id).sort(), [a.id, b.id].sort());
    });

    test("ten claims at once of a charge with two products make one sender, who holds both, each under its own key", async () => {
      await fresh();
      const f = facts();
      const two = [{ product: "starter", payload: '{"s":1}' }, { product: "course", payload: '{"c":1}' }];
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => ledger.claim(f, two, `owner-${i}`, NOW)));
      const won = results.filter((r) => r.kind === "claimed");
      assert.equal(won.length, 1);
      assert.deepEqual(won[0]?.kind === "claimed" && won[0].claimed.map((d) => [d.product, d.sendKey]), [
        ["starter", `paidup-${f.id}`],
        ["course", `paidup-${f.id}-course`],
      ]);
      const row = await ledger.getCharge(f.id);
      assert.equal(row?.product, "starter,course");
      assert.equal(row?.state, STATE.sending);
    });

    test("a charge is delivered once every product is; until then it has the state of the product furthest from done", async () => {
      await fresh();
      const f = facts();
      const two = [{ product: "starter", payload: "{}" }, { product: "course", payload: "{}" }];
      await ledger.claim(f, two, "a", NOW);
      await ledger.commitDelivered(f.id, "starter", "em_s", NOW + 1);
      assert.equal((await ledger.getCharge(f.id))?.state, STATE.sending);
      await ledger.commitFailure(f.id, "course", "a", failure(NOW + 60_000), NOW + 2);
      let row = await ledger.getCharge(f.id);
      assert.equal(row?.state, STATE.retrying);
      assert.equal(row?.reason, "course: Resend server error");
      assert.equal(row?.next_attempt_at, NOW + 60_000);
      assert.equal(row?.attempts, 2);

      const again = await ledger.claim(f, two, "b", NOW + 60_000);
      assert.deepEqual(again.kind === "claimed" && again.claimed.map((d) => d.product), ["course"], "the delivered product is never claimed again");
      await ledger.commitDelivered(f.id, "course", "em_c", NOW + 60_001);
      row = await ledger.getCharge(f.id);
      assert.equal(row?.state, STATE.delivered);
      assert.equal(row?.email_id, "em_s", "the charge's email id is its first product's");
      assert.deepEqual((await ledger.deliveries(f.id)).map((d) => [d.product, d.state, d.email_id]), [
        ["starter", STATE.delivered, "em_s"],
        ["course", STATE.delivered, "em_c"],
      ]);
      assert.deepEqual((await ledger.attempts(f.id)).map((a) => [a.product, a.outcome]), [
        ["starter", "delivered"], ["course", "failed"], ["course", "delivered"],
      ]);
    });

    test("an expired lease on one product is retaken alone, with its first payload; a live one on the other is left to its holder", async () => {
      await fresh();
      const f = facts();
      await ledger.claim(f, [{ product: "starter", payload: '{"v":1}' }, { product: "course", payload: '{"v":1}' }], "dead", NOW);
      await ledger.commitDelivered(f.id, "starter", "em_s", NOW + 1);
      const retake = await ledger.claim(f, [{ product: "starter", payload: '{"v":2}' }, { product: "course", payload: '{"v":2}' }], "next", NOW + LEASE_MS + 1);
      assert.deepEqual(retake, { kind: "claimed", claimed: [{ product: "course", sendKey: `paidup-${f.id}-course`, payload: '{"v":1}', retake: true, replayDeadline: NOW + SAFE_REPLAY_MS }] });
      assert.equal((await ledger.claim(f, [{ product: "course", payload: "{}" }], "third", NOW + LEASE_MS + 2)).kind, "not_claimable");
    });

    test("retry puts back only the products not delivered; resolve closes the rest", async () => {
      await fresh();
      const f = facts();
      await ledger.claim(f, [{ product: "starter", payload: "{}" }, { product: "course", payload: "{}" }], "a", NOW);
      await ledger.commitDelivered(f.id, "starter", "em_s", NOW + 1);
      await ledger.commitFailure(f.id, "course", "a", { error: "422", outcomeUnknown: false, next: { state: STATE.needsReview, reason: "refused" } }, NOW + 2);
      assert.equal((await ledger.getCharge(f.id))?.state, STATE.needsReview);
      assert.equal(await ledger.requeue(f.id, "fixed", NOW + 3), true);
      assert.deepEqual((await ledger.deliveries(f.id)).map((d) => d.state), [STATE.delivered, STATE.retrying]);
      assert.equal(await ledger.resolveByHand(f.id, "sent by hand", NOW + 4), true);
      assert.deepEqual((await ledger.deliveries(f.id)).map((d) => d.state), [STATE.delivered, STATE.resolved]);
      assert.equal((await ledger.getCharge(f.id))?.state, STATE.resolved);
    });

    test("a webhook event is recorded once however many times it arrives", async () => {
      await fresh();
      const e = { id: "evt_1", type: "charge.succeeded", objectId: "ch_1" };
      const fresh10 = await Promise.all(Array.from({ length: 10 }, () => ledger.recordEvent(e, NOW)));
      assert.equal(fresh10.filter(Boolean).length, 1);
      assert.equal((await ledger.unhandledEvents()).length, 1);
      await ledger.markEventHandled("evt_1", NOW + 1);
      assert.deepEqual(await ledger.unhandledEvents(), []);
    });

    test("meta values are set, replaced and deleted", async () => {
      await fresh();
      assert.equal(await ledger.getMeta("watermark"), undefined);
      await ledger.setMeta("watermark", "1");
      await ledger.setMeta("watermark", "2");
      assert.equal(await ledger.getMeta("watermark"), "2");
      await ledger.deleteMeta("watermark");
      assert.equal(await ledger.getMeta("watermark"), undefined);
    });

    test("two async transactions never interleave, and a failed one leaves nothing behind", async () => {
      await fresh();
      const order: string[] = [];
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const first = ledger.transaction(async (tx) => {
        await tx.setMeta("watermark", "first");
        order.push("first wrote");
        await gate;
        throw new Error("rolled back");
      });
      const second = ledger.transaction(async (tx) => {
        order.push("second started");
        assert.equal(await tx.getMeta("watermark"), undefined, "the first one's uncommitted write is not seen");
        await tx.setMeta("watermark", "second");
      });
      await new Promise((r) => setImmediate(r));
      release();
      await assert.rejects(first, /rolled back/);
      await second;
      assert.deepEqual(order, ["first wrote", "second started"]);
      assert.equal(await ledger.getMeta("watermark"), "second");
    });

    test("links rendered for one purchase by several renderers at once: one issue each, and one set per source", async () => {
      await fresh();
      // Two hosts (or the buyers' page and a send) rendering at the same moment: each rendering
      // gets its own issue number, and the same rendering asked twice gets the same links.
      const files = [{ name: "a.zip", path: "/p/a.zip" }, { name: "b.pdf", path: "/p/b.pdf" }];
      const issue = (charge: string, source: string) =>
        ledger.issueLinks({ charge, product: "course", source, files, expiresAfterMs: 3_600_000, maxDownloads: 5 }, NOW);
      for (let round = 0; round < 5; round++) {
        const charge = `ch_links_race_${round}`;
        const sources = ["send", "send", "r1", "page:1", "page:2", "page:3", "page:4", "send"];
        const results = await Promise.all(sources.map((source) => issue(charge, source)));
        const issueOf = new Map<string, number>();
        for (const [i, rows] of results.entries()) {
          assert.equal(rows.length, 2, `${sources[i]}: both files`);
          const n = rows[0]?.issue as number;
          assert.ok(rows.every((r) => r.issue === n && r.source === sources[i]));
          const seen = issueOf.get(sources[i] as string);
          if (seen !== undefined) assert.equal(n, seen, "the same rendering, asked twice, is the same links");
          issueOf.set(sources[i] as string, n);
        }
        assert.deepEqual([...issueOf.values()].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5], "one issue per rendering, none skipped or shared");
      }
    });

    test("using the outer handle inside a transaction fails at once instead of waiting for itself", async () => {
      await fresh();
      await assert.rejects(
        ledger.transaction(async () => {
          await ledger.getMeta("watermark");
        }),
        /inside a transaction/,
      );
    });
  });
}
