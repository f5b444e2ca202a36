/**
 * Progress of a rotation the CLI waits for, on stderr: a progress bar on a terminal
 * (cli-progress), one line per stage otherwise (CI logs, pipes). stdout stays clean for the
 * result (and --json).
 */
import { SingleBar } from 'cli-progress';
import type { Output } from './output';

/** The stages a rotation passes through, as the CLI can observe them. */
export const ROTATION_STAGES = ['execution started', 'lock taken', 'new key created (AWSPENDING)', 'new key current (AWSCURRENT)', 'done'] as const;

/** Shows how far a rotation got. */
export interface Progress {
  /** Moves to stage `index` (0-based in ROTATION_STAGES) with an optional detail. */
  update(index: number, detail?: string): void;
  stop(): void;
}

/** A progress display on `output`'s stderr. */
export function rotationProgress(output: Output, label: string): Progress {
  if (output.stderrIsTTY) {
    const writer = output.stderrWriter;
    // cli-progress writes to a stream; give it one that goes through the output's guard.
    // readline's cursor helpers, which cli-progress uses, only call write().
    const stream = {
      isTTY: true,
      columns: 100,
      write: (text: string) => {
        writer(text);
        return true;
      },
    };
    const bar = new SingleBar({
      format: ` ${label} {bar} {value}/{total} {stage}`,
      hideCursor: true,
      stream: stream as unknown as NodeJS.WritableStream,
      clearOnComplete: false,
      fps: 5,
    });
    bar.start(ROTATION_STAGES.length, 0, { stage: ROTATION_STAGES[0] });
    return {
      update: (index, detail) => bar.update(index + 1, { stage: `${ROTATION_STAGES[index] ?? ''}${detail ? ` (${detail})` : ''}` }),
      stop: () => bar.stop(),
    };
  }
  let shown = -1;
  return {
    update(index, detail) {
      if (index <= shown) return;
      shown = index;
      output.note(`  [${index + 1}/${ROTATION_STAGES.length}] ${ROTATION_STAGES[index]}${detail ? ` (${detail})` : ''}`);
    },
    stop: () => undefined,
  };
}
