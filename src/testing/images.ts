import { crc32, deflateSync } from 'node:zlib';

const chunk = (type: string, data: Buffer): Buffer => {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typed = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed));
  return Buffer.concat([length, typed, crc]);
};

/**
 * A valid PNG of 2 × 2 pixels of one colour; given `size`, padded to exactly that many bytes with
 * a private ancillary chunk (`paDd`, which decoders skip), so a test can sit on a size limit.
 */
export const pngImage = (size?: number, rgb: [number, number, number] = [200, 30, 30]): Buffer => {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(2, 0);
  header.writeUInt32BE(2, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits, truecolour, deflate, no filter method, no interlace
  const row = Buffer.from([0, ...rgb, ...rgb]);
  const parts = [
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat([row, row]))),
  ];
  const end = chunk('IEND', Buffer.alloc(0));
  const unpadded = parts.reduce((sum, part) => sum + part.length, end.length);
  if (size !== undefined) {
    const filler = size - unpadded - 12;
    if (filler < 0) throw new Error(`a PNG is at least ${unpadded + 12} bytes`);
    parts.push(chunk('paDd', Buffer.alloc(filler, 0x61)));
  }
  return Buffer.concat([...parts, end]);
};

/**
 * Bytes that begin as a JPEG (SOI and a JFIF APP0 segment) and end as one: what the service
 * checks of a logo. Not a decodable picture: no frame or scan.
 */
export const jpegStart = (): Buffer =>
  Buffer.from([
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00,
    0x00, 0xff, 0xd9,
  ]);

export const dataUrlOf = (type: string, bytes: Buffer): string => `data:${type};base64,${bytes.toString('base64')}`;
