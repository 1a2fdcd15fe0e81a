import Mustache from "mustache";
import type { DownloadVar } from "../delivery/templates";
import { UsageError } from "../errors";

// An announcement's subject and bodies are Mustache templates with `name`, `email`, `product`,
// `unsubscribe` (a URL) and, for a product with downloads, a `downloads` section; any other
// placeholder is a typo the operator sees before anything is sent (exit 2). HTML is escaped as
// in delivery emails; text and subject are not.

export interface AnnouncementTemplates {
  subject: string;
  text: string;
  html: string | null;
}

export interface AnnouncementVars {
  name: string;
  email: string;
  product: string;
  unsubscribe: string;
  downloads?: DownloadVar[];
}

export interface RenderedAnnouncement {
  subject: string;
  text: string;
  html?: string;
}

const TOP = ["name", "email", "product", "unsubscribe"];
const IN_DOWNLOADS = ["name", "url", "expires", "."];

type Token = [string, string, number, number, Token[]?];

function parse(template: string, what: string): Token[] {
  try {
    return Mustache.parse(template) as unknown as Token[];
  } catch (err) {
    throw new UsageError(`${what} is not a valid template: ${(err as Error).message}`);
  }
}

/** Placeholders the render would not know, by name. */
function unknownNames(tokens: Token[], known: readonly string[], hasDownloads: boolean): string[] {
  const out: string[] = [];
  for (const t of tokens) {
    const [type, name] = t;
    if (!["name", "&", "#", "^"].includes(type)) continue;
    if (name === "downloads" && hasDownloads && known === TOP) {
      if (type === "#" || type === "^") out.push(...unknownNames(t[4] ?? [], IN_DOWNLOADS, hasDownloads));
      continue;
    }
    if (!known.includes(name)) out.push(name);
    if (t[4]) out.push(...unknownNames(t[4], known, hasDownloads));
  }
  return out;
}

/** Throws a UsageError naming the first template with a placeholder it does not know. */
export function checkTemplates(t: AnnouncementTemplates, files: { text: string; html?: string }, hasDownloads: boolean): void {
  const parts: [string, string | null][] = [["--subject", t.subject], [files.text, t.text], [files.html ?? "--html", t.html]];
  for (const [what, template] of parts) {
    if (template === null) continue;
    const unknown = unknownNames(parse(template, what), TOP, hasDownloads);
    if (unknown.length > 0) {
      const allowed = [...TOP, ...(hasDownloads ? ["downloads"] : [])].map((n) => `{{${n}}}`).join(", ");
      throw new UsageError(`${what} uses {{${unknown[0]}}}, which an announcement does not have`, `placeholders: ${allowed}`);
    }
  }
}

/** Whether any of the templates shows download links (only then are links issued). */
export function usesDownloads(t: AnnouncementTemplates): boolean {
  return [t.subject, t.text, t.html].some((x) => x !== null && parse(x, "template").some((tok) => tok[1] === "downloads"));
}

const plain = { escape: (s: unknown) => String(s) };
const HTML_ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;" };
const html = { escape: (s: unknown) => String(s).replace(/[&<>"'`]/g, (c) => HTML_ENTITIES[c] as string) };

export function renderAnnouncement(t: AnnouncementTemplates, vars: AnnouncementVars): RenderedAnnouncement {
  const view = { ...vars };
  return {
    subject: Mustache.render(t.subject, view, {}, plain).replace(/[\r\n]+/g, " "),
    text: Mustache.render(t.text, view, {}, plain),
    ...(t.html !== null ? { html: Mustache.render(t.html, view, {}, html) } : {}),
  };
}
