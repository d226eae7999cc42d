/** The images a document may carry (the issuer's logo): PNG or JPEG, told by their first bytes. */
export const imageTypes = ['image/png', 'image/jpeg'] as const;
export type ImageType = (typeof imageTypes)[number];

export interface Image {
  type: ImageType;
  bytes: Buffer;
}

/** At most 200 KiB: a logo, not a photograph. */
export const maxLogoBytes = 200 * 1024;

const pngSignature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const jpegSignature = Buffer.from([0xff, 0xd8, 0xff]);

/** The type the bytes begin as, whatever their name or declared type says; undefined: neither. */
export const imageTypeOf = (bytes: Buffer): ImageType | undefined => {
  if (bytes.subarray(0, pngSignature.length).equals(pngSignature)) return 'image/png';
  if (bytes.subarray(0, jpegSignature.length).equals(jpegSignature)) return 'image/jpeg';
  return undefined;
};

/** Why the bytes cannot be a logo, or undefined when they can. */
export const logoProblem = (bytes: Buffer): string | undefined => {
  if (bytes.length > maxLogoBytes) return `is ${bytes.length} bytes; at most ${maxLogoBytes} (200 KiB)`;
  if (imageTypeOf(bytes) === undefined) return 'is neither a PNG nor a JPEG image';
  return undefined;
};

export const dataUrlPattern = '^data:image/(png|jpeg);base64,[A-Za-z0-9+/]*={0,2}$';
const dataUrl = new RegExp(dataUrlPattern);

/** The longest data URL a logo can be: the longer prefix and base64 of `maxLogoBytes`. */
export const maxLogoDataUrlLength = 'data:image/jpeg;base64,'.length + Math.ceil(maxLogoBytes / 3) * 4;

/**
 * A `data:image/png;base64,…` or `data:image/jpeg;base64,…` URL as an image: its bytes must be
 * the type it declares, and a logo (`logoProblem`). A string: why not.
 */
export const parseLogoDataUrl = (url: string): Image | string => {
  const match = dataUrl.exec(url);
  if (match === null || (url.length - url.indexOf(',') - 1) % 4 !== 0) {
    return 'must be a data URL: data:image/png;base64,… or data:image/jpeg;base64,…';
  }
  const bytes = Buffer.from(url.slice(url.indexOf(',') + 1), 'base64');
  const problem = logoProblem(bytes);
  if (problem !== undefined) return problem;
  const declared = `image/${match[1]}` as ImageType;
  if (imageTypeOf(bytes) !== declared) return `declares ${declared} but holds ${imageTypeOf(bytes)}`;
  return { type: declared, bytes };
};

export const toDataUrl = (image: Image): string => `data:${image.type};base64,${image.bytes.toString('base64')}`;
