/**
 * Fixed-newstyle option haggling: each option the client sends gets its answer here. The
 * connection hands in an option's number and data (already bounded by MAX_OPTION_BYTES) and
 * gets back the reply bytes and what to do next. Nothing here touches a socket.
 *
 * Answers: EXPORT_NAME enters transmission or, for an unknown export, ends the session (the
 * option has no error reply); GO/INFO answer NBD_INFO_EXPORT and NBD_INFO_BLOCK_SIZE always,
 * NBD_INFO_NAME/DESCRIPTION when asked, then ACK (GO enters transmission); LIST answers one
 * SERVER per export then ACK; ABORT answers ACK and closes; STRUCTURED_REPLY, STARTTLS and
 * every unknown option answer ERR_UNSUP, and haggling goes on.
 */
import type { BlockDevice } from '../block-device';
import {
  MAX_PAYLOAD_BYTES,
  MAX_STRING_BYTES,
  MIN_BLOCK_BYTES,
  NBD_FLAG_C_NO_ZEROES,
  NBD_INFO_BLOCK_SIZE,
  NBD_INFO_DESCRIPTION,
  NBD_INFO_EXPORT,
  NBD_INFO_NAME,
  NBD_OPT_ABORT,
  NBD_OPT_EXPORT_NAME,
  NBD_OPT_GO,
  NBD_OPT_INFO,
  NBD_OPT_LIST,
  NBD_REP_ACK,
  NBD_REP_ERR_INVALID,
  NBD_REP_ERR_POLICY,
  NBD_REP_ERR_UNKNOWN,
  NBD_REP_ERR_UNSUP,
  NBD_REP_INFO,
  NBD_REP_MAGIC_HIGH,
  NBD_REP_MAGIC_LOW,
  NBD_REP_SERVER,
  PREFERRED_BLOCK_BYTES,
  TRANSMISSION_FLAGS,
} from './constants';

export interface ExportListing {
  name: string;
  description: string;
}

export interface ExportCatalogue {
  /** The device behind an export name, or undefined when there is none. */
  exports: (name: string) => BlockDevice | undefined;
  list: () => ExportListing[];
}

export type OptionOutcome =
  | { next: 'options'; reply: Buffer[] }
  | { next: 'transmission'; reply: Buffer[]; exportName: string; device: BlockDevice }
  | { next: 'close'; reply: Buffer[]; reason: string };

export function optionReply(option: number, type: number, payload?: Buffer): Buffer {
  const length = payload?.length ?? 0;
  const reply = Buffer.allocUnsafe(20 + length);
  reply.writeUInt32BE(NBD_REP_MAGIC_HIGH, 0);
  reply.writeUInt32BE(NBD_REP_MAGIC_LOW, 4);
  reply.writeUInt32BE(option >>> 0, 8);
  reply.writeUInt32BE(type >>> 0, 12);
  reply.writeUInt32BE(length, 16);
  payload?.copy(reply, 20);
  return reply;
}

function errorReply(option: number, type: number, message: string): Buffer {
  return optionReply(option, type, Buffer.from(message.slice(0, 256), 'utf8'));
}

function lookUp(catalogue: ExportCatalogue, name: string): BlockDevice | undefined | Error {
  try {
    return catalogue.exports(name);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** The 8-byte size and 2-byte flags that open transmission after NBD_OPT_EXPORT_NAME. */
function exportNameReply(device: BlockDevice, clientFlags: number): Buffer {
  const zeroes = clientFlags & NBD_FLAG_C_NO_ZEROES ? 0 : 124;
  const reply = Buffer.alloc(10 + zeroes);
  reply.writeBigUInt64BE(BigInt(device.sizeBytes), 0);
  reply.writeUInt16BE(TRANSMISSION_FLAGS, 8);
  return reply;
}

function infoExport(device: BlockDevice): Buffer {
  const info = Buffer.allocUnsafe(12);
  info.writeUInt16BE(NBD_INFO_EXPORT, 0);
  info.writeBigUInt64BE(BigInt(device.sizeBytes), 2);
  info.writeUInt16BE(TRANSMISSION_FLAGS, 10);
  return info;
}

function infoBlockSize(): Buffer {
  const info = Buffer.allocUnsafe(14);
  info.writeUInt16BE(NBD_INFO_BLOCK_SIZE, 0);
  info.writeUInt32BE(MIN_BLOCK_BYTES, 2);
  info.writeUInt32BE(PREFERRED_BLOCK_BYTES, 6);
  info.writeUInt32BE(MAX_PAYLOAD_BYTES, 10);
  return info;
}

function infoString(type: number, text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8').subarray(0, MAX_STRING_BYTES);
  const info = Buffer.allocUnsafe(2 + bytes.length);
  info.writeUInt16BE(type, 0);
  bytes.copy(info, 2);
  return info;
}

function describe(catalogue: ExportCatalogue, name: string): string | undefined {
  try {
    return catalogue.list().find((entry) => entry.name === name)?.description;
  } catch {
    return undefined;
  }
}

/** NBD_OPT_INFO and NBD_OPT_GO: name length, name, count of info requests, the requests. */
function answerInfoOrGo(option: number, data: Buffer, catalogue: ExportCatalogue): OptionOutcome {
  const invalid = (message: string): OptionOutcome => ({ next: 'options', reply: [errorReply(option, NBD_REP_ERR_INVALID, message)] });
  if (data.length < 6) return invalid('option data shorter than 6 bytes');
  const nameBytes = data.readUInt32BE(0);
  if (nameBytes > data.length - 6) return invalid('export name length exceeds the option data');
  if (nameBytes > MAX_STRING_BYTES) return invalid(`export name longer than ${MAX_STRING_BYTES} bytes`);
  const requestCount = data.readUInt16BE(4 + nameBytes);
  if (data.length !== 6 + nameBytes + 2 * requestCount) return invalid('number of information requests does not match the option length');
  const name = data.toString('utf8', 4, 4 + nameBytes);
  const device = lookUp(catalogue, name);
  if (device instanceof Error) return { next: 'options', reply: [errorReply(option, NBD_REP_ERR_POLICY, `export ${JSON.stringify(name)} is unavailable: ${device.message}`)] };
  if (device === undefined) return { next: 'options', reply: [errorReply(option, NBD_REP_ERR_UNKNOWN, `no export named ${JSON.stringify(name)}`)] };

  const requested = new Set<number>();
  for (let i = 0; i < requestCount; i++) requested.add(data.readUInt16BE(6 + nameBytes + 2 * i));
  // NBD_INFO_EXPORT is mandatory whether asked for or not (qemu does not ask, and fails
  // without it); block sizes are sent always, as qemu-nbd does.
  const reply = [optionReply(option, NBD_REP_INFO, infoExport(device)), optionReply(option, NBD_REP_INFO, infoBlockSize())];
  if (requested.has(NBD_INFO_NAME)) reply.push(optionReply(option, NBD_REP_INFO, infoString(NBD_INFO_NAME, name)));
  if (requested.has(NBD_INFO_DESCRIPTION)) {
    const description = describe(catalogue, name);
    if (description !== undefined) reply.push(optionReply(option, NBD_REP_INFO, infoString(NBD_INFO_DESCRIPTION, description)));
  }
  reply.push(optionReply(option, NBD_REP_ACK));
  if (option === NBD_OPT_GO) return { next: 'transmission', reply, exportName: name, device };
  return { next: 'options', reply };
}

function answerList(data: Buffer, catalogue: ExportCatalogue): OptionOutcome {
  if (data.length !== 0) return { next: 'options', reply: [errorReply(NBD_OPT_LIST, NBD_REP_ERR_INVALID, 'NBD_OPT_LIST takes no data')] };
  let listing: ExportListing[];
  try {
    listing = catalogue.list();
  } catch (error) {
    return { next: 'options', reply: [errorReply(NBD_OPT_LIST, NBD_REP_ERR_POLICY, `export list unavailable: ${(error as Error).message}`)] };
  }
  const reply = listing.map(({ name, description }) => {
    const nameBytes = Buffer.from(name, 'utf8').subarray(0, MAX_STRING_BYTES);
    const descriptionBytes = Buffer.from(description, 'utf8').subarray(0, MAX_STRING_BYTES);
    const payload = Buffer.allocUnsafe(4 + nameBytes.length + descriptionBytes.length);
    payload.writeUInt32BE(nameBytes.length, 0);
    nameBytes.copy(payload, 4);
    descriptionBytes.copy(payload, 4 + nameBytes.length);
    return optionReply(NBD_OPT_LIST, NBD_REP_SERVER, payload);
  });
  reply.push(optionReply(NBD_OPT_LIST, NBD_REP_ACK));
  return { next: 'options', reply };
}

export function answerOption(option: number, data: Buffer, clientFlags: number, catalogue: ExportCatalogue): OptionOutcome {
  switch (option) {
    case NBD_OPT_EXPORT_NAME: {
      const name = data.toString('utf8');
      const device = data.length > MAX_STRING_BYTES ? undefined : lookUp(catalogue, name);
      if (device === undefined || device instanceof Error) {
        return { next: 'close', reply: [], reason: `NBD_OPT_EXPORT_NAME for unknown export ${JSON.stringify(name.slice(0, 256))}` };
      }
      return { next: 'transmission', reply: [exportNameReply(device, clientFlags)], exportName: name, device };
    }
    case NBD_OPT_ABORT:
      return { next: 'close', reply: [optionReply(option, NBD_REP_ACK)], reason: 'client sent NBD_OPT_ABORT' };
    case NBD_OPT_LIST:
      return answerList(data, catalogue);
    case NBD_OPT_INFO:
    case NBD_OPT_GO:
      return answerInfoOrGo(option, data, catalogue);
    default:
      // STARTTLS, STRUCTURED_REPLY (simple replies only), meta contexts and anything unknown.
      return { next: 'options', reply: [errorReply(option, NBD_REP_ERR_UNSUP, `option ${option} is not supported`)] };
  }
}
