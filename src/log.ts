import type winston from "winston";
import { UsageError } from "./errors";
import { redact } from "./redact";

// Logs go to stderr so that stdout carries only command output (tables, --json).
// winston loads on the first line logged, not at start-up: `--version` and `status` log nothing.

export const LOG_LEVELS = ["error", "warn", "info", "debug"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
const LOG_FORMATS = ["text", "json"] as const;

export interface LogSettings {
  level: LogLevel;
  json: boolean;
}

/**
 * LOG_LEVEL and LOG_FORMAT in any case. An unknown value is a configuration error: winston given
 * `WARN` or `bogus` silently drops every line, warnings and failed alerts included.
 */
export function logSettings(env: NodeJS.ProcessEnv = process.env): LogSettings {
  const level = (env.LOG_LEVEL ?? "").trim().toLowerCase() || "info";
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(`LOG_LEVEL "${env.LOG_LEVEL}" is not a log level`, `use one of ${LOG_LEVELS.join(", ")} (any case)`);
  }
  const format = (env.LOG_FORMAT ?? "").trim().toLowerCase() || "text";
  if (!(LOG_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`LOG_FORMAT "${env.LOG_FORMAT}" is not a log format`, "use json (one object per line) or text");
  }
  return { level: level as LogLevel, json: format === "json" };
}

let settings: LogSettings | undefined;

/** Checks LOG_LEVEL and LOG_FORMAT once `.env` was read (exit 2 for a bad value); winston still loads lazily. */
export function configureLogging(env: NodeJS.ProcessEnv = process.env): void {
  settings = logSettings(env);
}

function currentSettings(): LogSettings {
  if (settings) return settings;
  try {
    return logSettings();
  } catch {
    // Used outside the CLI (tests, bench) with a bad value: log at info rather than not at all.
    return { level: "info", json: false };
  }
}

function build(): winston.Logger {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const w = require("winston") as typeof winston;
  const redactFormat = w.format((info) => {
    info.message = redact(String(info.message));
    for (const key of Object.keys(info)) {
      const value = info[key];
      if (typeof value === "string" && key !== "level") info[key] = redact(value);
    }
    return info;
  })();
  const { level, json } = currentSettings();
  const format = json
    ? w.format.combine(redactFormat, w.format.timestamp(), w.format.json())
    : w.format.combine(
        redactFormat,
        w.format.timestamp(),
        w.format.printf(({ level, message, timestamp, ...rest }) => {
          const fields = Object.entries(rest)
            .filter(([k]) => typeof k === "string")
            .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
            .join(" ");
          return `${String(timestamp)} ${level} ${String(message)}${fields ? " " + fields : ""}`;
        }),
      );
  return w.createLogger({
    level,
    format,
    transports: [new w.transports.Console({ stderrLevels: Object.keys(w.config.npm.levels) })],
  });
}

export type Logger = Pick<winston.Logger, "info" | "warn" | "error" | "debug">;

let logger: winston.Logger | undefined;
const get = () => (logger ??= build());

/**
 * Each call checks the level first: winston runs its formats (the redaction included) on every
 * line before a transport drops it, which cost a delivered charge more than its own log line.
 */
export const log: Logger = {
  info: (...args: Parameters<winston.LeveledLogMethod>) => (get().isInfoEnabled() ? get().info(...args) : get()),
  warn: (...args: Parameters<winston.LeveledLogMethod>) => (get().isWarnEnabled() ? get().warn(...args) : get()),
  error: (...args: Parameters<winston.LeveledLogMethod>) => get().error(...args),
  // Debug lines are asked for on hot paths (each Stripe page, each charge, each Resend answer):
  // below debug they cost nothing, not even loading winston.
  debug: (...args: Parameters<winston.LeveledLogMethod>) => (debugEnabled() ? get().debug(...args) : undefined),
} as Logger;

export function debugEnabled(): boolean {
  return currentSettings().level === "debug";
}
