import fs from "node:fs";
import { parseDuration } from "./duration";
import { UsageError } from "./errors";

// The two durations `status` judges by, read from the config file without validating the
// catalog: the monitor starts in a few milliseconds (no zod) and keeps answering while the
// products are being edited. A broken catalog still shows: its passes fail and go stale, and
// `paidup check` names the field.

export const DEFAULT_STUCK_AFTER = "15m";
export const DEFAULT_STALE_AFTER = "10m";

export interface Thresholds {
  stuckAfterMs: number;
  staleAfterMs: number;
}

/** The config file's JSON, or a configuration error that says what is wrong with the file. */
export function readConfigJson(configPath: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(configPath, "utf8"));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : `is not valid JSON (${(err as Error).message})`;
    throw new UsageError(`config file ${configPath} ${why}`, "set PAIDUP_CONFIG or create paidup.config.json (see paidup.config.example.json)");
  }
}

export function loadThresholds(configPath: string): Thresholds {
  const raw = readConfigJson(configPath);
  const file = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
  const duration = (field: string, fallback: string): number => {
    const value = file[field] ?? fallback;
    if (typeof value !== "string") throw new UsageError(`config file ${configPath} is invalid:\n  ${field}: must be a duration such as 15m, 2h or 7d`);
    return parseDuration(value, `config file ${configPath}: ${field}`);
  };
  return { stuckAfterMs: duration("stuckAfter", DEFAULT_STUCK_AFTER), staleAfterMs: duration("staleAfter", DEFAULT_STALE_AFTER) };
}
