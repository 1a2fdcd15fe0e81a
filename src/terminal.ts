// When output may carry terminal escapes (bold, colour): only to a terminal, and never with
// NO_COLOR set to anything (no-color.org). Piped into a file, cron's mail or `| cat`, the bytes
// are plain text: an operator grepping a log must not meet `\x1b[1m`.

export function colourAllowed(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && !env.NO_COLOR;
}
