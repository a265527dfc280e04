import { syncJsonSchema } from '../../config/schema.js';
import { ExitCode } from '../../core/types.js';

export function schemaCommand(): ExitCode {
  process.stdout.write(`${JSON.stringify(syncJsonSchema(), null, 2)}\n`);
  return ExitCode.success;
}
