//! Image decoding, EXIF orientation, resizing and normalisation.
//!
//! Decoding uses the `image` crate (JPEG, PNG, WebP, GIF first frame, BMP, TIFF)
//! with a cap on pixels against decompression bombs; resizing uses
//! `fast_image_resize` (SIMD convolution, antialiased like Pillow). Each call
//! is independent, so the pipeline runs them in parallel.

use std::io::Cursor;

use fast_image_resize as fr;
use image::{DynamicImage, ImageDecoder, ImageReader};

use crate::manifest::{ChannelOrder, Filter, ImagePrep, Layout, ResizeMode};

/// Default cap on decoded pixels (width x height): 64 megapixels.
pub const DEFAULT_MAX_PIXELS: u64 = 64_000_000;

/// Side of the square greyscale thumbnail kept for the from-scratch pixel baseline.
pub const BASELINE_SIDE: u32 = 28;

/// One image ready for the model.
#[derive(Debug, Clone)]
pub struct PreparedImage {
    /// The normalised tensor for one image (C x H x W or H x W x C as the manifest says).
    pub tensor: Vec<f32>,
    /// A 28 x 28 greyscale thumbnail (row-major), for the pixel baseline.
    pub thumbnail: Vec<u8>,
}

/// Applies a manifest's image preprocessing.
#[derive(Debug, Clone)]
pub struct ImagePreprocessor {
    prep: ImagePrep,
    max_pixels: u64,
}

impl ImagePreprocessor {
    /// A preprocessor for `prep` with the default pixel cap.
    pub fn new(prep: ImagePrep) -> Self {
        ImagePreprocessor {
            prep,
            max_pixels: DEFAULT_MAX_PIXELS,
        }
    }

    /// Changes the cap on decoded pixels.
    pub fn with_max_pixels(mut self, max_pixels: u64) -> Self {
        self.max_pixels = max_pixels;
        self
    }

    /// Values per image in the model tensor.
    pub fn tensor_len(&self) -> usize {
        3 * self.prep.size[0] as usize * self.prep.size[1] as usize
    }

    /// The tensor shape for a batch of `n`.
    pub fn batch_shape(&self, n: usize) -> [usize; 4] {
        let [h, w] = self.prep.size;
        match self.prep.layout {
            Layout::Nchw => [n, 3, h as usize, w as usize],
            Layout::Nhwc => [n, h as usize, w as usize, 3],
        }
    }

    /// Decodes encoded image bytes, honouring EXIF orientation. Errors are plain
    /// reasons for `errors.jsonl` (the caller knows the file).
    pub fn decode(&self, bytes: &[u8]) -> Result<DynamicImage, String> {
        if bytes.is_empty() {
            return Err("empty file".into());
        }
        let reader = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| format!("cannot read: {e}"))?;
        if reader.format().is_none() {
            return Err("not an image (unrecognised format)".into());
        }
        let mut limits = image::Limits::default();
        limits.max_alloc = Some(self.max_pixels.saturating_mul(8));
        let mut reader = reader;
        reader.limits(limits);
        let mut decoder = reader
            .into_decoder()
            .map_err(|e| format!("cannot decode: {e}"))?;
        let (w, h) = decoder.dimensions();
        if u64::from(w) * u64::from(h) > self.max_pixels {
            return Err(format!(
                "{w}x{h} pixels exceeds the cap of {} (possible decompression bomb)",
                self.max_pixels
            ));
        }
        let orientation = decoder
            .orientation()
            .unwrap_or(image::metadata::Orientation::NoTransforms);
        let mut img =
            DynamicImage::from_decoder(decoder).map_err(|e| format!("cannot decode: {e}"))?;
        img.apply_orientation(orientation);
        if img.width() == 0 || img.height() == 0 {
            return Err("image has no pixels".into());
        }
        Ok(img)
    }

    /// Decodes and preprocesses one encoded image.
    pub fn prepare(&self, bytes: &[u8]) -> Result<PreparedImage, String> {
        let mut tensor = vec![0f32; self.tensor_len()];
        let thumbnail = self.prepare_into(bytes, &mut tensor)?;
        Ok(PreparedImage { tensor, thumbnail })
    }

    /// Decodes and preprocesses one encoded image straight into `out` (one
    /// image's slot of a batch tensor, [`Self::tensor_len`] values); returns the
    /// baseline thumbnail.
    pub fn prepare_into(&self, bytes: &[u8], out: &mut [f32]) -> Result<Vec<u8>, String> {
        let img = self.decode(bytes)?;
        self.prepare_image_into(&img, out)
    }

    /// Preprocesses a decoded image: RGB, resize (and crop), normalise.
    pub fn prepare_image(&self, img: &DynamicImage) -> Result<PreparedImage, String> {
        let mut tensor = vec![0f32; self.tensor_len()];
        let thumbnail = self.prepare_image_into(img, &mut tensor)?;
        Ok(PreparedImage { tensor, thumbnail })
    }

    fn prepare_image_into(&self, img: &DynamicImage, out: &mut [f32]) -> Result<Vec<u8>, String> {
        if out.len() != self.tensor_len() {
            return Err(format!(
                "tensor slot holds {} values, not {}",
                out.len(),
                self.tensor_len()
            ));
        }
        let rgb = img.to_rgb8();
        let (w, h) = rgb.dimensions();
        let [th, tw] = self.prep.size;
        let src = fr::images::Image::from_vec_u8(w, h, rgb.into_raw(), fr::PixelType::U8x3)
            .map_err(|e| format!("resize: {e}"))?;
        let mut dst = fr::images::Image::new(tw, th, fr::PixelType::U8x3);
        let filter = match self.prep.filter {
            Filter::Bilinear => fr::FilterType::Bilinear,
            Filter::Bicubic => fr::FilterType::CatmullRom,
            Filter::Lanczos3 => fr::FilterType::Lanczos3,
        };
        let mut options = fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(filter));
        if self.prep.resize == ResizeMode::ShorterCrop {
            // Resizing the shorter side to S and cropping the center equals
            // cropping the matching source box and resizing it once.
            let shorter = self.prep.resize_shorter.unwrap_or(th.min(tw)) as f64;
            let scale = shorter / f64::from(w.min(h));
            let (cw, ch) = (
                (f64::from(tw) / scale).min(f64::from(w)),
                (f64::from(th) / scale).min(f64::from(h)),
            );
            options = options.crop((f64::from(w) - cw) / 2.0, (f64::from(h) - ch) / 2.0, cw, ch);
        }
        fr::Resizer::new()
            .resize(&src, &mut dst, &options)
            .map_err(|e| format!("resize: {e}"))?;
        self.normalise_into(dst.buffer(), out);
        thumbnail(img)
    }

    fn normalise_into(&self, rgb: &[u8], out: &mut [f32]) {
        let plane = rgb.len() / 3;
        let order = match self.prep.channel_order {
            ChannelOrder::Rgb => [0, 1, 2],
            ChannelOrder::Bgr => [2, 1, 0],
        };
        let scale: [f32; 3] = std::array::from_fn(|c| 1.0 / (255.0 * self.prep.std[c]));
        let shift: [f32; 3] = std::array::from_fn(|c| self.prep.mean[c] / self.prep.std[c]);
        for (p, px) in rgb.chunks_exact(3).enumerate() {
            for (slot, &c) in order.iter().enumerate() {
                let v = f32::from(px[c]) * scale[c] - shift[c];
                match self.prep.layout {
                    Layout::Nchw => out[slot * plane + p] = v,
                    Layout::Nhwc => out[p * 3 + slot] = v,
                }
            }
        }
    }
}

/// A 28 x 28 greyscale thumbnail of an image, for the from-scratch baseline.
pub fn thumbnail(img: &DynamicImage) -> Result<Vec<u8>, String> {
    let luma = img.to_luma8();
    let (w, h) = luma.dimensions();
    if (w, h) == (BASELINE_SIDE, BASELINE_SIDE) {
        return Ok(luma.into_raw());
    }
    let src = fr::images::Image::from_vec_u8(w, h, luma.into_raw(), fr::PixelType::U8)
        .map_err(|e| format!("thumbnail: {e}"))?;
    let mut dst = fr::images::Image::new(BASELINE_SIDE, BASELINE_SIDE, fr::PixelType::U8);
    fr::Resizer::new()
        .resize(&src, &mut dst, &fr::ResizeOptions::new())
        .map_err(|e| format!("thumbnail: {e}"))?;
    Ok(dst.into_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prep(resize: ResizeMode) -> ImagePrep {
        ImagePrep {
            size: [4, 4],
            resize,
            resize_shorter: Some(4),
            filter: Filter::Bilinear,
            mean: [0.5, 0.5, 0.5],
            std: [0.5, 0.5, 0.5],
            channel_order: ChannelOrder::Rgb,
            layout: Layout::Nchw,
        }
    }

    fn png(img: &DynamicImage) -> Vec<u8> {
        let mut bytes = Vec::new();
        img.write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        bytes
    }

    #[test]
    fn normalises_a_solid_colour_per_channel() {
        let img =
            DynamicImage::ImageRgb8(image::RgbImage::from_pixel(9, 5, image::Rgb([255, 0, 51])));
        let p = ImagePreprocessor::new(prep(ResizeMode::Stretch))
            .prepare(&png(&img))
            .unwrap();
        assert_eq!(p.tensor.len(), 48);
        assert!((p.tensor[0] - 1.0).abs() < 1e-6); // red plane: (1 - .5) / .5
        assert!((p.tensor[16] + 1.0).abs() < 1e-6); // green plane
        assert!((p.tensor[32] - (0.2 - 0.5) / 0.5).abs() < 1e-6);
        assert_eq!(p.thumbnail.len(), 28 * 28);
    }

    #[test]
    fn center_crop_keeps_the_middle() {
        // Left third black, middle white, right third black: the crop sees white.
        let img = image::RgbImage::from_fn(12, 4, |x, _| {
            if (4..8).contains(&x) {
                image::Rgb([255, 255, 255])
            } else {
                image::Rgb([0, 0, 0])
            }
        });
        let p = ImagePreprocessor::new(prep(ResizeMode::ShorterCrop))
            .prepare(&png(&DynamicImage::ImageRgb8(img)))
            .unwrap();
        assert!(
            p.tensor[..16].iter().all(|v| *v > 0.9),
            "{:?}",
            &p.tensor[..16]
        );
    }

    #[test]
    fn bad_bytes_and_bombs_are_refused_with_reasons() {
        let pre = ImagePreprocessor::new(prep(ResizeMode::Stretch));
        assert!(pre.prepare(b"").unwrap_err().contains("empty"));
        assert!(pre
            .prepare(b"hello, not an image")
            .unwrap_err()
            .contains("not an image"));
        let big = DynamicImage::ImageLuma8(image::GrayImage::new(300, 300));
        let bytes = png(&big);
        let truncated = &bytes[..bytes.len() / 2];
        assert!(pre.prepare(truncated).is_err());
        let err = pre
            .clone()
            .with_max_pixels(1000)
            .prepare(&bytes)
            .unwrap_err();
        assert!(err.contains("decompression bomb"), "{err}");
    }
}
