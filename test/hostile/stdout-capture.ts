/**
 * Captures what is written to stdout and stderr (Powertools' Logger and Metrics write there
 * through their own Console), so a test can read the log lines a hostile input produced.
 */

/** A capture in progress. */
export interface StdoutCapture {
  /** Everything written since the capture began. */
  text(): string;
  /** Puts the real streams back. */
  restore(): void;
}

export function captureStdout(): StdoutCapture {
  const chunks: string[] = [];
  const capture = (chunk: unknown) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return true;
  };
  const spies = [jest.spyOn(process.stdout, 'write').mockImplementation(capture), jest.spyOn(process.stderr, 'write').mockImplementation(capture)];
  return {
    text: () => chunks.join(''),
    restore: () => {
      for (const spy of spies) spy.mockRestore();
    },
  };
}
