// SPDX-License-Identifier: MPL-2.0
//! One frame through its [`Conversion`], whole on the calling thread or in row bands shared out
//! over the element's worker threads (`bands.rs` says where the bands start and why the result
//! is the same; `pool.rs` holds the threads).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::bands::Split;
use super::negotiate::{Conversion, Planar};
use super::out420::Out420;
use super::planes::{self, Plane};
use super::pool::Pool;
use super::{packed, rgb};
use crate::sync::lock;

/// What the helper threads are called, numbered from 1 ("stromfastconv-1"): short enough for
/// the 15 bytes Linux keeps of a thread name, so `top -H` and `/proc/<pid>/task` show it whole.
pub(crate) const THREAD_NAME: &str = "stromfastconv";

/// One thread's scratch rows, reused across bands and frames.
#[derive(Default)]
pub(crate) struct Scratch {
    packed: packed::Scratch,
    rgb: rgb::Scratch,
}

/// The 4:2:0 layout `conversion` writes.
pub(crate) fn output_layout(conversion: &Conversion) -> Planar {
    match *conversion {
        Conversion::I420ToNv12 => Planar::Nv12,
        Conversion::Nv12ToI420 => Planar::I420,
        Conversion::Packed { to, .. } | Conversion::Rgb { to, .. } => to,
    }
}

/// Planes the input of `conversion` has.
fn input_planes(conversion: &Conversion) -> usize {
    match conversion {
        Conversion::I420ToNv12 => 3,
        Conversion::Nv12ToI420 => 2,
        Conversion::Packed { .. } | Conversion::Rgb { .. } => 1,
    }
}

/// The input of the band starting at luma row `first` (even): the chroma planes of I420 and
/// NV12 input start at half of it.
fn input_from_row<'a>(input: &[Plane<'a>], first: usize) -> Vec<Plane<'a>> {
    input
        .iter()
        .enumerate()
        .map(|(p, plane)| plane.rows_from(if p == 0 { first } else { first / 2 }))
        .collect()
}

/// Converts a `width`×`height` picture on the calling thread.
pub(crate) fn convert(
    conversion: &Conversion,
    width: usize,
    height: usize,
    input: &[Plane<'_>],
    out: Out420<'_>,
    scratch: &mut Scratch,
) -> Result<(), String> {
    if input.len() < input_planes(conversion) {
        return Err(format!(
            "{} input planes where {conversion:?} needs {}",
            input.len(),
            input_planes(conversion)
        ));
    }
    match (*conversion, out) {
        (Conversion::I420ToNv12, Out420::Nv12 { y, uv }) => {
            planes::i420_to_nv12(width, height, [input[0], input[1], input[2]], [y, uv]);
        }
        (Conversion::Nv12ToI420, Out420::I420 { y, u, v }) => {
            planes::nv12_to_i420(width, height, [input[0], input[1]], [y, u, v]);
        }
        (Conversion::Packed { packing, route, .. }, out) => {
            packed::to_420(
                packing,
                route,
                width,
                height,
                input[0],
                out,
                &mut scratch.packed,
            );
        }
        (
            Conversion::Rgb {
                order,
                encoding,
                siting,
                ..
            },
            out,
        ) => {
            rgb::to_420(
                order,
                encoding,
                siting,
                width,
                height,
                input[0],
                out,
                &mut scratch.rgb,
            );
        }
        _ => return Err(format!("output planes that are not {conversion:?}'s")),
    }
    Ok(())
}

/// What converting keeps from one frame to the next: each thread's scratch rows and the helper
/// threads (started on the first frame that needs them).
#[derive(Default)]
pub(crate) struct Workspace {
    pool: Option<Pool>,
    scratch: Vec<Mutex<Scratch>>,
}

impl Workspace {
    /// Makes sure `threads` threads can convert; the system's reason where it refuses threads.
    pub(crate) fn reserve(&mut self, threads: usize) -> std::io::Result<()> {
        if self.scratch.len() < threads {
            self.scratch.resize_with(threads, Mutex::default);
        }
        let have = self.pool.as_ref().map_or(1, Pool::threads);
        if threads > have {
            // Dropped first: its threads are joined before new ones start.
            self.pool = None;
            self.pool = Some(Pool::new(threads, THREAD_NAME)?);
        }
        Ok(())
    }

    /// The helper threads, which wait parked while no frame needs them.
    pub(crate) fn release_threads(&mut self) {
        self.pool = None;
    }

    /// Converts a `width`×`height` picture as `split` says, after [`Workspace::reserve`] for
    /// `split.threads` (fewer threads are used where it was not).
    pub(crate) fn convert(
        &mut self,
        conversion: &Conversion,
        width: usize,
        height: usize,
        input: &[Plane<'_>],
        out: Out420<'_>,
        split: &Split,
    ) -> Result<(), String> {
        if self.scratch.is_empty() {
            self.scratch.push(Mutex::default());
        }
        let pool = match &self.pool {
            Some(pool) if split.threads > 1 && split.starts.len() > 1 => pool,
            _ => {
                let scratch = self.scratch[0].get_mut().unwrap_or_else(|e| e.into_inner());
                return convert(conversion, width, height, input, out, scratch);
            }
        };
        let bands: Vec<Mutex<Option<Out420<'_>>>> = out
            .into_bands(&split.starts)
            .into_iter()
            .map(|band| Mutex::new(Some(band)))
            .collect();
        let next = AtomicUsize::new(0);
        let failure: Mutex<Option<String>> = Mutex::new(None);
        let threads = split.threads.min(self.scratch.len());
        let scratch = &self.scratch;
        pool.run(threads, &|index| {
            let mut scratch = lock(&scratch[index]);
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(band) = bands.get(k) else { break };
                let Some(out) = lock(band).take() else {
                    continue;
                };
                let rows = split.rows(k, height);
                let input = input_from_row(input, rows.start);
                if let Err(why) = convert(conversion, width, rows.len(), &input, out, &mut scratch)
                {
                    *lock(&failure) = Some(why);
                }
            }
        })?;
        match failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(why) => Err(why),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::bands;
    use crate::convert::chroma::HSiting;
    use crate::convert::noise;
    use crate::convert::packed::{Packing, Route};
    use crate::convert::planes::PlaneMut;
    use crate::convert::rgb::{Encoding, Order};

    /// Every conversion the element makes, with both routes and sitings and two matrices.
    fn conversions() -> Vec<Conversion> {
        let mut all = vec![Conversion::I420ToNv12, Conversion::Nv12ToI420];
        let sitings = [HSiting::Centred, HSiting::Cosited];
        for to in [Planar::I420, Planar::Nv12] {
            for packing in [Packing::Uyvy, Packing::Yuy2] {
                all.push(Conversion::Packed {
                    packing,
                    route: Route::LineAverage,
                    to,
                });
                for input in sitings {
                    for output in sitings {
                        all.push(Conversion::Packed {
                            packing,
                            route: Route::Resample { input, output },
                            to,
                        });
                    }
                }
            }
            for order in [Order::Bgrx, Order::Rgbx] {
                for colorimetry in ["bt601", "1:6:0:0"] {
                    let c: gst_video::VideoColorimetry = colorimetry.parse().unwrap();
                    for siting in sitings {
                        all.push(Conversion::Rgb {
                            order,
                            encoding: Encoding::for_output(&c).unwrap(),
                            siting,
                            to,
                        });
                    }
                }
            }
        }
        all
    }

    /// Input planes of `conversion` at `width`×`height` with padded strides: (bytes, stride).
    fn input_for(conversion: &Conversion, width: usize, height: usize) -> Vec<(Vec<u8>, usize)> {
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        let sizes: Vec<(usize, usize)> = match conversion {
            Conversion::I420ToNv12 => vec![(width, height), (cw, ch), (cw, ch)],
            Conversion::Nv12ToI420 => vec![(width, height), (2 * cw, ch)],
            Conversion::Packed { .. } => vec![(4 * cw, height)],
            Conversion::Rgb { .. } => vec![(4 * width, height)],
        };
        sizes
            .into_iter()
            .enumerate()
            .map(|(p, (row, rows))| {
                let stride = row + 7 + 3 * p;
                // The last row without its padding, as a tight buffer would end.
                (
                    noise(stride * (rows - 1) + row, (row * rows + p) as u64),
                    stride,
                )
            })
            .collect()
    }

    /// The output planes, padded and pre-filled the same for every run: (bytes, stride).
    fn output_for(conversion: &Conversion, width: usize, height: usize) -> Vec<(Vec<u8>, usize)> {
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        let sizes = match output_layout(conversion) {
            Planar::I420 => vec![(width, height), (cw, ch), (cw, ch)],
            Planar::Nv12 => vec![(width, height), (2 * cw, ch)],
        };
        sizes
            .into_iter()
            .map(|(row, rows)| {
                let stride = row + 5;
                (vec![0xA5; stride * (rows - 1) + row], stride)
            })
            .collect()
    }

    fn run(
        workspace: &mut Workspace,
        conversion: &Conversion,
        (width, height): (usize, usize),
        split: &Split,
    ) -> Vec<Vec<u8>> {
        let input = input_for(conversion, width, height);
        let planes: Vec<Plane<'_>> = input
            .iter()
            .map(|(data, stride)| Plane {
                data,
                stride: *stride,
            })
            .collect();
        let mut output = output_for(conversion, width, height);
        {
            let mut out = output.iter_mut().map(|(data, stride)| PlaneMut {
                data,
                stride: *stride,
            });
            let out = match output_layout(conversion) {
                Planar::I420 => Out420::I420 {
                    y: out.next().unwrap(),
                    u: out.next().unwrap(),
                    v: out.next().unwrap(),
                },
                Planar::Nv12 => Out420::Nv12 {
                    y: out.next().unwrap(),
                    uv: out.next().unwrap(),
                },
            };
            workspace.reserve(split.threads).unwrap();
            workspace
                .convert(conversion, width, height, &planes, out, split)
                .unwrap();
        }
        output.into_iter().map(|(data, _)| data).collect()
    }

    #[test]
    fn bands_on_several_threads_give_the_single_thread_picture_for_every_conversion() {
        let mut whole = Workspace::default();
        let mut banded = Workspace::default();
        for conversion in conversions() {
            for size in [(63, 47), (64, 48), (2, 34), (641, 577), (642, 578)] {
                let reference = run(&mut whole, &conversion, size, &Split::single());
                for threads in [2, 3, 5] {
                    let split = bands::split(size.1, threads);
                    assert!(split.starts.len() > 1, "{size:?} is split");
                    // Several rounds: which thread takes which band changes from one to the next.
                    for round in 0..3 {
                        assert!(
                            run(&mut banded, &conversion, size, &split) == reference,
                            "{conversion:?} {size:?} on {threads} threads, round {round}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn mismatched_planes_are_an_error_not_a_panic() {
        let mut scratch = Scratch::default();
        let (mut y, mut u, mut v) = (vec![0; 16], vec![0; 4], vec![0; 4]);
        let out = Out420::I420 {
            y: PlaneMut {
                data: &mut y,
                stride: 4,
            },
            u: PlaneMut {
                data: &mut u,
                stride: 2,
            },
            v: PlaneMut {
                data: &mut v,
                stride: 2,
            },
        };
        let input = [0u8; 64];
        let plane = Plane {
            data: &input,
            stride: 4,
        };
        assert!(
            convert(
                &Conversion::I420ToNv12,
                4,
                4,
                &[plane; 3],
                out,
                &mut scratch
            )
            .is_err()
        );
        let out = Out420::Nv12 {
            y: PlaneMut {
                data: &mut y,
                stride: 4,
            },
            uv: PlaneMut {
                data: &mut u,
                stride: 4,
            },
        };
        assert!(convert(&Conversion::I420ToNv12, 4, 4, &[plane], out, &mut scratch).is_err());
    }

    /// Input planes of `conversion` at `width`x`height`: (row bytes, rows) each.
    fn plane_sizes(conversion: &Conversion, width: usize, height: usize) -> Vec<(usize, usize)> {
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        match conversion {
            Conversion::I420ToNv12 => vec![(width, height), (cw, ch), (cw, ch)],
            Conversion::Nv12ToI420 => vec![(width, height), (2 * cw, ch)],
            Conversion::Packed { .. } => vec![(4 * cw, height)],
            Conversion::Rgb { .. } => vec![(4 * width, height)],
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 512,
            failure_persistence: None,
            rng_seed: proptest::test_runner::RngSeed::Fixed(25),
            ..Default::default()
        })]

        /// Whatever layout `framecheck` admits (random sizes from 1x1, strides around a row,
        /// offsets, buffer lengths around the frame), the converter reads inside it: no panic,
        /// no error. Without the check, these layouts make it panic (slice out of range).
        #[test]
        fn every_layout_the_check_admits_converts(
            which in 0usize..1000,
            width in 1usize..40,
            height in 1usize..40,
            pad in proptest::collection::vec(-4i64..12, 3),
            lead in 0usize..24,
            cut in -48isize..48,
        ) {
            gst::init().unwrap();
            let all = conversions();
            let conversion = all[which % all.len()];
            let mut layouts = Vec::new();
            let mut at = lead;
            for (p, (row, rows)) in plane_sizes(&conversion, width, height).into_iter().enumerate() {
                let stride = row as i64 + pad[p];
                layouts.push(crate::framecheck::PlaneLayout { offset: at, stride, rows, row_bytes: row, align: 1 });
                at += stride.max(0) as usize * rows;
            }
            let len = (at as isize + cut).max(1) as usize;
            if crate::framecheck::check_planes(&layouts, &[len]).is_err() {
                return Ok(());
            }
            let data = noise(len, which as u64);
            let planes: Vec<Plane<'_>> = layouts
                .iter()
                .map(|l| Plane { data: &data[l.offset..], stride: l.stride as usize })
                .collect();
            let mut output = output_for(&conversion, width, height);
            let mut out = output.iter_mut().map(|(data, stride)| PlaneMut { data, stride: *stride });
            let out = match output_layout(&conversion) {
                Planar::I420 => Out420::I420 { y: out.next().unwrap(), u: out.next().unwrap(), v: out.next().unwrap() },
                Planar::Nv12 => Out420::Nv12 { y: out.next().unwrap(), uv: out.next().unwrap() },
            };
            let mut scratch = Scratch::default();
            proptest::prop_assert!(convert(&conversion, width, height, &planes, out, &mut scratch).is_ok());
        }
    }
}
