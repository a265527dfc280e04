import { syncJsonSchema } from '../../config/schema.js';

export function schemaCommand(): number {
  process.stdout.write(`${JSON.stringify(syncJsonSchema(), null, 2)}\n`);
  return 0;
}
