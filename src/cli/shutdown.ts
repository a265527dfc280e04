// SIGTERM and SIGINT: the first asks for a clean stop, a second one quits at once.
export function onShutdown(stop: () => void): () => void {
  let asked = false;
  const handler = (signal: NodeJS.Signals) => {
    if (asked) process.exit(signal === 'SIGINT' ? 130 : 143);
    asked = true;
    stop();
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
  };
}
