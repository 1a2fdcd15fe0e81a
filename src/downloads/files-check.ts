import fs from "node:fs";

/** Problems with download files `check` reports: missing, not a regular file, unreadable. Empty: none. */
export function downloadFileProblems(files: readonly string[]): string[] {
  const problems: string[] = [];
  for (const file of files) {
    try {
      if (!fs.statSync(file).isFile()) {
        problems.push(`${file} is not a regular file`);
        continue;
      }
      fs.accessSync(file, fs.constants.R_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push(`${file} ${code === "ENOENT" ? "is missing" : `cannot be read (${code ?? "error"})`}`);
    }
  }
  return problems;
}
