import type * as ConfigModule from "../config";
import type { CatalogLoader } from "../pass/status";

/**
 * The catalog and ignore rules, loaded (with zod) only when a charge without a row must be judged;
 * a config that does not load leaves such charges reported as missing, as before.
 */
export function catalogLoader(configPath: string): CatalogLoader {
  let loaded: Promise<Awaited<ReturnType<CatalogLoader>>> | undefined;
  return () =>
    (loaded ??= (async () => {
      try {
        // Loaded here, not at the top: `status --offline` and `show` start without zod.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        return (require("../config") as typeof ConfigModule).loadConfig(configPath);
      } catch {
        return null;
      }
    })());
}
