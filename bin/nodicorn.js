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
