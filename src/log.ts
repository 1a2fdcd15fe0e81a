import type winston from "winston";
import { redact } from "./redact";

// Logs go to stderr so that stdout carries only command output (tables, --json).
// winston loads on the first line logged, not at start-up: `--version` and `status` log nothing.

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
  const json = process.env.LOG_FORMAT === "json";
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
    level: process.env.LOG_LEVEL ?? "info",
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
  debug: (...args: Parameters<winston.LeveledLogMethod>) => (get().isDebugEnabled() ? get().debug(...args) : get()),
} as Logger;
