// Entry of a Web Worker: exposes one PartitionHost to the page via comlink. Browser-only.
import * as Comlink from 'comlink';
import { PartitionHost } from './partition-host.ts';

Comlink.expose(new PartitionHost());
