import winston from "winston";
import { redact } from "./redact";

// Logs go to stderr so that stdout carries only command output (tables, --json).
const redactFormat = winston.format((info) => {
  info.message = redact(String(info.message));
  for (const key of Object.keys(info)) {
    const value = info[key];
    if (typeof value === "string" && key !== "level") info[key] = redact(value);
  }
  return info;
})();

function build(): winston.Logger {
  const json = process.env.LOG_FORMAT === "json";
  const format = json
    ? winston.format.combine(redactFormat, winston.format.timestamp(), winston.format.json())
    : winston.format.combine(
        redactFormat,
        winston.format.timestamp(),
        winston.format.printf(({ level, message, timestamp, ...rest }) => {
          const fields = Object.entries(rest)
            .filter(([k]) => typeof k === "string")
            .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
            .join(" ");
          return `${String(timestamp)} ${level} ${String(message)}${fields ? " " + fields : ""}`;
        }),
      );
  return winston.createLogger({
    level: process.env.LOG_LEVEL ?? "info",
    format,
    transports: [new winston.transports.Console({ stderrLevels: Object.keys(winston.config.npm.levels) })],
  });
}

export const log = build();

export type Logger = Pick<winston.Logger, "info" | "warn" | "error" | "debug">;
