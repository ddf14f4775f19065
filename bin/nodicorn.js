#!/usr/bin/env node
// The command-line shim: wires the real process to main(argv, env, io).
import { main } from '../dist/src/cli/main.js';

const io = {
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: process.cwd(),
  onSignal: (signal, handler) => {
    process.on(signal, handler);
    return () => process.off(signal, handler);
  },
};

// `nodicorn --print-config | head`: a closed pipe ends the output, not with a stack trace.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

main(process.argv.slice(2), process.env, io).then(
  (code) => {
    process.exitCode = code;
    // Let stdio flush, then leave even if a stray handle (a client socket) lingers.
    setTimeout(() => process.exit(code), 50).unref();
  },
  (error) => {
    console.error(error);
    process.exit(70);
  },
);
