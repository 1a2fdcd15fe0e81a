import fs from "node:fs";
import path from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import type { AddressInfo } from "node:net";
import { buyersPageRoutes } from "../../src/http/buyers-page";
import { downloadRoutes } from "../../src/http/downloads";
import type { PassDeps } from "../../src/pass/pass-deps";
import { DEFAULT_PRODUCTS } from "./shop";

// A shop selling a course as download links: the config, its template and its files.

export const COURSE_BYTES = 300_000;

export const COURSE_PRODUCT = {
  key: "course",
  name: "Big Course",
  match: { metadata: { product: "course" } },
  subject: "Your {{product}}",
  html: "templates/course.html",
  text: "templates/course.txt",
  downloads: { files: ["products/course.bin", "products/workbook.pdf"], expiresAfter: "7d", maxDownloads: 3 },
};

export function writeCourseFiles(dir: string): void {
  fs.writeFileSync(path.join(dir, "templates", "course.html"), '<p>Hi {{name}}</p><ul>{{#downloads}}<li><a href="{{url}}">{{name}}</a> until {{expires}}</li>{{/downloads}}</ul>\n');
  fs.writeFileSync(path.join(dir, "templates", "course.txt"), "Hi {{name}}\n{{#downloads}}{{name}}: {{url}} (until {{expires}})\n{{/downloads}}");
  const bytes = Buffer.alloc(COURSE_BYTES);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) & 0xff;
  fs.writeFileSync(path.join(dir, "products", "course.bin"), bytes);
  fs.writeFileSync(path.join(dir, "products", "workbook.pdf"), "%PDF-1.4 workbook\n");
}

export function courseConfig(publicUrl = "https://shop.example.com", extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { from: "Ship Shop <shop@example.com>", replyTo: "help@example.com", resend: { maxPerSecond: 100 }, publicUrl, products: [...DEFAULT_PRODUCTS, COURSE_PRODUCT], ...extra };
}

/** The download and buyers'-page routes on their own Fastify app, on 127.0.0.1. */
export async function linkServer(deps: PassDeps): Promise<{ app: FastifyInstance; url: string; idle: () => Promise<void> }> {
  const app = Fastify();
  let tail: Promise<void> = Promise.resolve();
  await app.register(downloadRoutes, { deps });
  await app.register(buyersPageRoutes, { deps, later: (_what, job) => ((tail = tail.then(job)), true) });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, idle: () => tail };
}

/** The download links (by file name) in an email's text body. */
export function linksIn(text: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of (text ?? "").matchAll(/^([^\s:]+): (\S+\/d\/\S+)/gm)) out.set(m[1] as string, m[2] as string);
  return out;
}
