import type { Config } from "../config";
import type { InstanceRow, Ledger, LicenseRow } from "../ledger";
import { signCertificate } from "./certificates";
import { hashKey, newInstanceId } from "./keys";
import { LicenseStatus, statusOf, unusableReason } from "./status";

// What POST /v1/licenses/activate|validate|deactivate answer, in the contract's table (shaped
// after Lemon Squeezy's License API). Framework-free: http/licenses.ts parses the body into
// fields and sends the answer. Every field of a route's answer is present, null when it does
// not apply. An unknown key gets the same answer whatever it was: nothing about other keys leaks.

export type Route = "activate" | "validate" | "deactivate";
const FLAG: Record<Route, "activated" | "valid" | "deactivated"> = { activate: "activated", validate: "valid", deactivate: "deactivated" };

export interface LicenseAnswer {
  status: number;
  body: Record<string, unknown>;
}

export interface AnswerDeps {
  ledger: Ledger;
  /** null: `paidup license` without a loadable config (product names are then the keys). */
  config: Config | null;
  now: () => number;
}

/** A request's fields as sent (strings from a form, anything from JSON); null: the body is not an object. */
export type Fields = Record<string, unknown> | null;

const DEFAULT_OFFLINE_MS = 7 * 86_400_000;
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function text(fields: Fields, name: string, max: number, required: boolean): { value?: string; error?: string } {
  const v = fields?.[name];
  if (v === undefined || v === null || v === "") return required ? { error: `${name} is required` } : {};
  if (typeof v !== "string") return { error: `${name} must be a string` };
  if ([...v].length > max) return { error: `${name} must be at most ${max} characters` };
  return { value: v };
}

/** The shape of the route's answer with nothing filled in: what 400 and an unknown key get. */
function empty(route: Route, status: number, error: string): LicenseAnswer {
  const body: Record<string, unknown> = { [FLAG[route]]: false, error, license_key: null };
  if (route === "validate") body.instance = null;
  body.meta = null;
  if (route === "validate") body.certificate = null;
  return { status, body };
}

export function badRequest(route: Route, error: string): LicenseAnswer {
  return empty(route, 400, error);
}

export function licenseKeyOf(row: LicenseRow, status: LicenseStatus) {
  return {
    id: row.id, status, key: row.license_key, activation_limit: row.activation_limit, activation_usage: row.activation_usage,
    created_at: iso(row.created_at), expires_at: iso(row.expires_at),
  };
}

const instanceOf = (i: InstanceRow) => ({ id: i.id, name: i.name, created_at: iso(i.created_at) });

export async function metaOf(deps: Pick<AnswerDeps, "ledger" | "config">, row: LicenseRow) {
  const charge = await deps.ledger.getCharge(row.charge_id);
  const product = deps.config?.products.find((p) => p.key === row.product);
  return {
    store_id: null, order_id: row.charge_id, order_item_id: null, product_id: row.product, product_name: product?.name ?? row.product,
    variant_id: null, variant_name: null, customer_id: row.customer_id, customer_name: charge?.name ?? null, customer_email: charge?.email ?? null,
  };
}

export async function answerLicense(deps: AnswerDeps, route: Route, fields: Fields, ip: string): Promise<LicenseAnswer> {
  if (fields === null) return badRequest(route, "the body must be a form or a JSON object");
  const key = text(fields, "license_key", 255, true);
  const name = route === "activate" ? text(fields, "instance_name", 200, true) : {};
  const instanceId = route === "activate" ? {} : text(fields, "instance_id", 255, route === "deactivate");
  const problem = key.error ?? name.error ?? instanceId.error;
  if (problem) return badRequest(route, problem);

  const row = await deps.ledger.licenseByHash(hashKey(key.value as string));
  if (!row) return empty(route, 404, "license_key not found.");
  if (route === "activate") return activate(deps, row, name.value as string, ip);
  if (route === "validate") return validate(deps, row, instanceId.value);
  return deactivate(deps, row, instanceId.value as string);
}

async function activate(deps: AnswerDeps, row: LicenseRow, name: string, ip: string): Promise<LicenseAnswer> {
  const now = deps.now();
  const taken = await deps.ledger.activateLicense(row.id, { id: newInstanceId(), name, ip }, now);
  if (taken.kind === "refused") {
    const status = statusOf(taken.license, now);
    const error = unusableReason(status) ?? `This license key has reached the activation limit (${taken.license.activation_limit}).`;
    return { status: 400, body: { activated: false, error, license_key: licenseKeyOf(taken.license, status), meta: await metaOf(deps, taken.license) } };
  }
  const after = (await deps.ledger.licenseOf(row.charge_id, row.product)) as LicenseRow;
  return {
    status: 200,
    body: { activated: true, error: null, license_key: licenseKeyOf(after, statusOf(after, now)), instance: instanceOf(taken.instance), meta: await metaOf(deps, after) },
  };
}

async function validate(deps: AnswerDeps, row: LicenseRow, instanceId: string | undefined): Promise<LicenseAnswer> {
  const now = deps.now();
  const status = statusOf(row, now);
  const instance = instanceId === undefined ? undefined : await deps.ledger.licenseInstance(row.id, instanceId);
  const activeInstance = instance && instance.deactivated_at === null ? instance : undefined;
  let error = unusableReason(status);
  if (error === null && instanceId !== undefined && !activeInstance) error = "instance_id is not an active instance of this license key.";
  const base = { license_key: licenseKeyOf(row, status), instance: activeInstance ? instanceOf(activeInstance) : null, meta: await metaOf(deps, row) };
  if (error !== null) return { status: 200, body: { valid: false, error, ...base, certificate: null } };

  const product = deps.config?.products.find((p) => p.key === row.product);
  const iat = Math.floor(now / 1000);
  let exp = iat + Math.floor((product?.license?.offlineForMs ?? DEFAULT_OFFLINE_MS) / 1000);
  // An app offline may keep working until exp: never past the key's own expiry.
  if (row.expires_at !== null) exp = Math.min(exp, Math.floor(row.expires_at / 1000));
  const certificate = await signCertificate(deps.ledger, { sub: row.id, product: row.product, instance: activeInstance?.id ?? null, status, iat, exp });
  return { status: 200, body: { valid: true, error: null, ...base, certificate } };
}

async function deactivate(deps: AnswerDeps, row: LicenseRow, instanceId: string): Promise<LicenseAnswer> {
  const now = deps.now();
  const done = await deps.ledger.deactivateInstance(row.id, instanceId, now);
  const after = (await deps.ledger.licenseOf(row.charge_id, row.product)) as LicenseRow;
  const body = { license_key: licenseKeyOf(after, statusOf(after, now)), meta: await metaOf(deps, after) };
  if (!done) return { status: 404, body: { deactivated: false, error: "instance_id not found.", ...body } };
  return { status: 200, body: { deactivated: true, error: null, ...body } };
}
