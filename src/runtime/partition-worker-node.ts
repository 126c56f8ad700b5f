// Entry of a node:worker_threads worker: exposes one PartitionHost to the coordinator via comlink.
// Node-only.
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { parentPort } from 'node:worker_threads';
import { installNodeCrypto } from './node-crypto.ts';
import { PartitionHost } from './partition-host.ts';

if (!parentPort) throw new Error('partition-worker-node must run in a worker thread');
installNodeCrypto();
Comlink.expose(new PartitionHost(), nodeEndpoint(parentPort));
