// SPDX-License-Identifier: MPL-2.0
//! `stromcompositor` against `compositor` and `glvideomixer`: the same pads and properties give
//! the same picture (bit-exact on the software path, within a mean absolute difference of 6 on
//! the GL path, which runs on Mesa llvmpipe here), auto mode chooses software on a CPU rasteriser
//! and says so (and follows a hardware renderer where there is one), output memory follows downstream, pads come and go while playing without losing
//! an output frame, and the leaks tracer finds nothing alive afterwards.

mod common;

use std::sync::{Arc, Mutex};

use gst::prelude::*;

use serde::{Deserialize, Serialize};

use common::{BusLog, child_name, init, is_child, run_child, run_to_eos};

const MESSAGE: &str = "strom-compositor";
const TIMEOUT: gst::ClockTime = gst::ClockTime::from_seconds(60);

/// One input: a source description (ending in caps) and the properties of its mixer pad.
struct Input {
    source: String,
    props: Vec<(&'static str, glib::Value)>,
}

fn input(source: &str, props: &[(&'static str, glib::Value)]) -> Input {
    Input {
        source: source.to_owned(),
        props: props.to_vec(),
    }
}

/// What came out of a mix.
#[derive(Debug)]
struct Mixed {
    frames: Vec<Vec<u8>>,
    pts: Vec<gst::ClockTime>,
    caps: Option<gst::Caps>,
    run: BusLog,
    active_path: Option<String>,
}

impl Mixed {
    fn decisions(&self) -> Vec<&gst::Structure> {
        self.run
            .element_messages
            .iter()
            .filter(|s| s.name() == MESSAGE)
            .collect()
    }

    fn decision(&self) -> &gst::Structure {
        let decisions = self.decisions();
        assert_eq!(decisions.len(), 1, "one decision per stream: {decisions:?}");
        decisions[0]
    }
}

/// Every frame (system memory only), every PTS, the last caps.
type Collected = Arc<Mutex<(Vec<Vec<u8>>, Vec<gst::ClockTime>, Option<gst::Caps>)>>;

/// An appsink that keeps every frame, its PTS and the last caps.
fn collecting_sink(sink: &gst_app::AppSink) -> Collected {
    let store = Arc::new(Mutex::new((Vec::new(), Vec::new(), None)));
    let writer = store.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
                let mut store = writer.lock().unwrap();
                store.1.push(buffer.pts().unwrap_or(gst::ClockTime::ZERO));
                // GL memory cannot be mapped here; its frames are not compared.
                let is_gl = sample
                    .caps()
                    .and_then(|c| c.features(0).map(|f| f.contains("memory:GLMemory")))
                    .unwrap_or(false);
                if !is_gl {
                    let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                    store.0.push(map.as_slice().to_vec());
                }
                store.2 = sample.caps().map(|c| c.to_owned());
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    store
}

/// Plays `inputs` into `mixer` (a gst-launch fragment such as `compositor background=black`)
/// with the pads' properties set before playing, and collects every output frame.
fn mix(mixer: &str, inputs: &[Input], out_caps: &str) -> Mixed {
    init();
    let mut description = format!("{mixer} name=m ! {out_caps} ! appsink name=out sync=false");
    for (i, input) in inputs.iter().enumerate() {
        description.push_str(&format!("  {} ! m.sink_{i}", input.source));
    }
    let pipeline = gst::parse::launch(&description)
        .unwrap_or_else(|e| panic!("cannot parse {description}: {e}"))
        .downcast::<gst::Pipeline>()
        .unwrap();
    share_gl_display(&pipeline);
    let m = pipeline.by_name("m").unwrap();
    for (i, input) in inputs.iter().enumerate() {
        let pad = m.static_pad(&format!("sink_{i}")).unwrap();
        for (name, value) in &input.props {
            pad.set_property_from_value(name, value);
        }
    }
    let sink = pipeline
        .by_name("out")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    let store = collecting_sink(&sink);
    let run = play(&pipeline);
    let active_path = m
        .find_property("active-path")
        .map(|_| m.property::<String>("active-path"));
    let (frames, pts, caps) = std::mem::take(&mut *store.lock().unwrap());
    Mixed {
        frames,
        pts,
        caps,
        run,
        active_path,
    }
}

/// [`run_to_eos`], which keeps the error a failed start posted (the decision is made on
/// READY→PAUSED).
fn play(pipeline: &gst::Pipeline) -> BusLog {
    run_to_eos(pipeline, common::HANG)
}

fn mean_abs_difference(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let sum: u64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.len() as f64
}

const RGBA_OUT: &str = "video/x-raw,format=RGBA,width=320,height=240";

fn two_inputs() -> Vec<Input> {
    vec![
        input(
            "videotestsrc num-buffers=4 pattern=smpte ! video/x-raw,format=I420,width=320,height=240,framerate=30/1",
            &[("zorder", 1u32.to_value())],
        ),
        input(
            "videotestsrc num-buffers=4 pattern=ball ! video/x-raw,format=RGBA,width=160,height=120,framerate=30/1",
            &[
                ("xpos", 40i32.to_value()),
                ("ypos", 30i32.to_value()),
                ("width", 200i32.to_value()),
                ("height", 150i32.to_value()),
                ("alpha", 0.6f64.to_value()),
                ("zorder", 2u32.to_value()),
            ],
        ),
    ]
}

/// Four inputs of different formats and sizes, scaled, overlapping, translucent, stacked out of
/// request order.
fn four_inputs() -> Vec<Input> {
    vec![
        input(
            "videotestsrc num-buffers=4 pattern=smpte ! video/x-raw,format=I420,width=320,height=240,framerate=30/1",
            &[("zorder", 0u32.to_value())],
        ),
        input(
            "videotestsrc num-buffers=4 pattern=ball ! video/x-raw,format=RGBA,width=128,height=96,framerate=30/1",
            &[
                ("xpos", 10i32.to_value()),
                ("ypos", 20i32.to_value()),
                ("alpha", 0.8f64.to_value()),
                ("zorder", 3u32.to_value()),
            ],
        ),
        input(
            "videotestsrc num-buffers=4 pattern=gradient ! video/x-raw,format=NV12,width=160,height=120,framerate=30/1",
            &[
                ("xpos", 150i32.to_value()),
                ("ypos", 100i32.to_value()),
                ("width", 120i32.to_value()),
                ("height", 90i32.to_value()),
                ("alpha", 0.5f64.to_value()),
                ("zorder", 1u32.to_value()),
            ],
        ),
        input(
            "videotestsrc num-buffers=4 pattern=circular ! video/x-raw,format=BGRA,width=96,height=96,framerate=30/1",
            &[
                ("xpos", 200i32.to_value()),
                ("ypos", 10i32.to_value()),
                ("width", 80i32.to_value()),
                ("height", 60i32.to_value()),
                ("zorder", 2u32.to_value()),
            ],
        ),
    ]
}

fn assert_bit_exact_with_compositor(inputs: fn() -> Vec<Input>, out_caps: &str) {
    let ours = mix(
        "stromcompositor mode=software background=black",
        &inputs(),
        out_caps,
    );
    let stock = mix("compositor background=black", &inputs(), out_caps);
    assert!(ours.run.error().is_none(), "{:?}", ours.run.error());
    assert!(stock.run.error().is_none(), "{:?}", stock.run.error());
    assert_eq!(ours.active_path.as_deref(), Some("software"));
    assert_eq!(ours.frames.len(), 4);
    assert_eq!(ours.frames.len(), stock.frames.len());
    assert_eq!(ours.pts, stock.pts);
    for (i, (a, b)) in ours.frames.iter().zip(&stock.frames).enumerate() {
        assert!(a == b, "frame {i} differs from compositor's");
    }
}

#[test]
fn two_inputs_software_path_is_bit_exact_with_compositor() {
    assert_bit_exact_with_compositor(two_inputs, RGBA_OUT);
    // compositor takes translucent inputs only into a format with alpha.
    assert_bit_exact_with_compositor(two_inputs, "video/x-raw,format=AYUV,width=320,height=240");
}

#[test]
fn four_inputs_software_path_is_bit_exact_with_compositor() {
    assert_bit_exact_with_compositor(four_inputs, RGBA_OUT);
    assert_bit_exact_with_compositor(four_inputs, "video/x-raw,format=BGRA,width=320,height=240");
}

/// Inputs without alpha into an encoder's format (compositor takes only those into I420).
fn yuv_inputs() -> Vec<Input> {
    vec![
        input(
            "videotestsrc num-buffers=4 pattern=smpte ! video/x-raw,format=I420,width=320,height=240,framerate=30/1",
            &[],
        ),
        input(
            "videotestsrc num-buffers=4 pattern=ball ! video/x-raw,format=NV12,width=160,height=120,framerate=30/1",
            &[
                ("xpos", 20i32.to_value()),
                ("ypos", 16i32.to_value()),
                ("width", 200i32.to_value()),
                ("height", 150i32.to_value()),
                ("alpha", 0.5f64.to_value()),
            ],
        ),
        input(
            "videotestsrc num-buffers=4 pattern=snow ! video/x-raw,format=Y444,width=64,height=64,framerate=30/1",
            &[
                ("xpos", 250i32.to_value()),
                ("ypos", 170i32.to_value()),
                ("zorder", 0u32.to_value()),
            ],
        ),
    ]
}

#[test]
fn yuv_inputs_into_i420_are_bit_exact_with_compositor() {
    assert_bit_exact_with_compositor(yuv_inputs, "video/x-raw,format=I420,width=320,height=240");
}

#[test]
fn the_checker_background_is_compositors_too() {
    let small = || {
        vec![input(
            "videotestsrc num-buffers=2 pattern=ball ! video/x-raw,format=RGBA,width=100,height=80,framerate=30/1",
            &[("xpos", 30i32.to_value())],
        )]
    };
    let ours = mix("stromcompositor mode=software", &small(), RGBA_OUT);
    let stock = mix("compositor", &small(), RGBA_OUT);
    assert_eq!(ours.frames, stock.frames);
}

fn assert_gl_close_to_compositor(inputs: fn() -> Vec<Input>) {
    let ours = mix(
        "stromcompositor mode=gl background=black",
        &inputs(),
        RGBA_OUT,
    );
    let stock = mix("compositor background=black", &inputs(), RGBA_OUT);
    assert!(ours.run.error().is_none(), "{:?}", ours.run.error());
    assert_eq!(ours.active_path.as_deref(), Some("gl"));
    let decision = ours.decision();
    assert_eq!(decision.get::<&str>("path"), Ok("gl"));
    assert_eq!(decision.get::<&str>("mixer"), Ok("glvideomixer"));
    assert_eq!(decision.get::<&str>("output-memory"), Ok("system"));
    // mode=gl runs on whatever renderer there is (llvmpipe without a GPU), and names it.
    assert!(
        decision
            .get::<&str>("gl-renderer")
            .is_ok_and(|r| !r.is_empty()),
        "{decision}"
    );
    assert_eq!(ours.frames.len(), stock.frames.len());
    assert_eq!(ours.pts, stock.pts);
    for (i, (a, b)) in ours.frames.iter().zip(&stock.frames).enumerate() {
        let diff = mean_abs_difference(a, b);
        println!("frame {i}: mean abs difference {diff:.2}");
        assert!(diff <= 6.0, "frame {i}: mean abs difference {diff:.2} > 6");
    }
}

#[test]
fn two_inputs_gl_path_is_within_6_of_compositor_on_rgba() {
    assert_gl_close_to_compositor(two_inputs);
}

#[test]
fn four_inputs_gl_path_is_within_6_of_compositor_on_rgba() {
    assert_gl_close_to_compositor(four_inputs);
}

/// Whether `decision` (auto mode) names a GL renderer that is a GPU: then auto may mix in GL;
/// on a CPU rasteriser (llvmpipe, where there is no GPU) or without a GPU device node it mixes in
/// software.
fn renderer_is_a_gpu(decision: &gst::Structure) -> bool {
    decision
        .get::<&str>("gl-renderer")
        .is_ok_and(|r| !common::gl::is_cpu_rasteriser(r))
}

/// Auto mode names the renderer and follows it: software on a CPU rasteriser (bit-exact with
/// compositor), and on a GPU what the reason says (glvideomixer when the mix scales or blends).
#[test]
fn auto_follows_the_gl_renderer_and_names_it() {
    let ours = mix("stromcompositor background=black", &four_inputs(), RGBA_OUT);
    let stock = mix("compositor background=black", &four_inputs(), RGBA_OUT);
    assert!(ours.run.error().is_none(), "{:?}", ours.run.error());
    let decision = ours.decision();
    let reason = decision.get::<&str>("reason").unwrap();
    // Without any GPU device node the bin knows GL could only run on the CPU without making
    // a context (which would keep Mesa loaded); with one, the context names the renderer.
    if reason.starts_with("no GPU device node") {
        assert!(reason.contains("CPU"), "{reason}");
        assert!(decision.get::<&str>("gl-renderer").is_err(), "{decision}");
    } else {
        let renderer = decision.get::<&str>("gl-renderer").unwrap();
        assert!(reason.contains(renderer), "{reason}");
        assert!(decision.get::<&str>("gl-vendor").is_ok());
        if renderer_is_a_gpu(decision) {
            assert!(reason.contains("is a GPU"), "{reason}");
            let gl = reason.contains("glvideomixer");
            let path = if gl { "gl" } else { "software" };
            assert_eq!(ours.active_path.as_deref(), Some(path), "{reason}");
            assert_eq!(decision.get::<&str>("path"), Ok(path));
            if gl {
                assert_eq!(ours.frames.len(), stock.frames.len());
                for (i, (a, b)) in ours.frames.iter().zip(&stock.frames).enumerate() {
                    let diff = mean_abs_difference(a, b);
                    assert!(diff <= 6.0, "frame {i}: mean abs difference {diff:.2} > 6");
                }
                return;
            }
        } else {
            assert!(reason.contains("CPU"), "{reason}");
        }
    }
    assert_eq!(ours.active_path.as_deref(), Some("software"));
    assert_eq!(decision.get::<&str>("path"), Ok("software"));
    assert_eq!(decision.get::<&str>("mixer"), Ok("compositor"));
    assert_eq!(ours.frames, stock.frames);
}

#[test]
fn output_memory_follows_downstream() {
    let one = || {
        vec![input(
            "videotestsrc num-buffers=3 ! video/x-raw,format=RGBA,width=64,height=48,framerate=30/1",
            &[],
        )]
    };
    let gl_caps = "video/x-raw(memory:GLMemory),format=RGBA";
    for (mixer, out_caps, path, memory) in [
        // Auto: on a CPU rasteriser compositor, uploaded for a GL-only consumer; on a GPU
        // glvideomixer (see below).
        ("stromcompositor", gl_caps, "software", "gl"),
        ("stromcompositor mode=software", gl_caps, "software", "gl"),
        ("stromcompositor mode=gl", gl_caps, "gl", "gl"),
        (
            "stromcompositor mode=gl",
            "video/x-raw,format=RGBA",
            "gl",
            "system",
        ),
        (
            "stromcompositor",
            "video/x-raw,format=RGBA",
            "software",
            "system",
        ),
    ] {
        let mixed = mix(mixer, &one(), out_caps);
        assert!(
            mixed.run.error().is_none(),
            "{mixer} → {out_caps}: {:?}",
            mixed.run.error()
        );
        assert_eq!(mixed.pts.len(), 3, "{mixer} → {out_caps}");
        let decision = mixed.decision();
        let path = if mixer == "stromcompositor" && memory == "gl" && renderer_is_a_gpu(decision) {
            "gl"
        } else {
            path
        };
        assert_eq!(
            decision.get::<&str>("path"),
            Ok(path),
            "{mixer} → {out_caps}"
        );
        assert_eq!(decision.get::<&str>("output-memory"), Ok(memory));
        let caps = mixed.caps.expect("caps");
        let is_gl = caps.features(0).unwrap().contains("memory:GLMemory");
        assert_eq!(is_gl, memory == "gl", "{mixer} → {out_caps}: {caps}");
    }
}

#[test]
fn gl_memory_inputs_reach_compositor_through_a_download() {
    // gltestsrc gives GL memory only; the same frames downloaded by hand are the reference.
    let gl_input = |download: &str| {
        vec![
            input(
                &format!(
                    "gltestsrc num-buffers=3 pattern=smpte ! video/x-raw(memory:GLMemory),format=RGBA,width=320,height=240,framerate=30/1 {download}"
                ),
                &[],
            ),
            input(
                "videotestsrc num-buffers=3 pattern=ball ! video/x-raw,format=I420,width=100,height=100,framerate=30/1",
                &[("xpos", 50i32.to_value()), ("alpha", 0.7f64.to_value())],
            ),
        ]
    };
    for mixer in ["stromcompositor mode=software", "stromcompositor"] {
        let ours = mix(mixer, &gl_input(""), RGBA_OUT);
        let stock = mix("compositor", &gl_input("! gldownload"), RGBA_OUT);
        assert!(
            ours.run.error().is_none(),
            "{mixer}: {:?}",
            ours.run.error()
        );
        assert_eq!(ours.frames.len(), 3);
        if renderer_is_a_gpu(ours.decision()) && ours.active_path.as_deref() == Some("gl") {
            // Auto on a GPU blends in GL: within GL's rounding of compositor, not bit-exact.
            for (a, b) in ours.frames.iter().zip(&stock.frames) {
                assert!(mean_abs_difference(a, b) <= 6.0, "{mixer}");
            }
            continue;
        }
        assert_eq!(ours.active_path.as_deref(), Some("software"));
        assert_eq!(ours.frames, stock.frames, "{mixer}");
    }
    // glvideomixer takes either memory itself.
    let ours = mix("stromcompositor mode=gl", &gl_input(""), RGBA_OUT);
    assert!(ours.run.error().is_none(), "{:?}", ours.run.error());
    assert_eq!(ours.frames.len(), 3);
}

#[test]
fn eos_comes_when_all_inputs_end() {
    let uneven = || {
        vec![
            input(
                "videotestsrc num-buffers=3 ! video/x-raw,format=RGBA,width=64,height=48,framerate=30/1",
                &[],
            ),
            input(
                "videotestsrc num-buffers=9 pattern=ball ! video/x-raw,format=RGBA,width=32,height=32,framerate=30/1",
                &[("xpos", 8i32.to_value())],
            ),
        ]
    };
    let out = "video/x-raw,format=RGBA,width=64,height=48";
    let stock = mix("compositor", &uneven(), out);
    for mode in ["software", "gl"] {
        let ours = mix(&format!("stromcompositor mode={mode}"), &uneven(), out);
        assert!(ours.run.error().is_none(), "{mode}: {:?}", ours.run.error());
        assert_eq!(ours.pts, stock.pts, "{mode}");
        assert_eq!(ours.pts.len(), 9, "{mode}");
    }
}

/// The main input (black, 90 frames) plays; after output frame 10 a white 64×64 input is
/// requested and linked, after frame 40 it is blocked, unlinked and released. Every output
/// frame must arrive, in order, and the added input must show while it is there.
fn add_and_remove_mid_stream(mode: &str) {
    init();
    const FRAMES: usize = 90;
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers={FRAMES} pattern=black ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! m.sink_0 \
         stromcompositor name=m mode={mode} background=black ! video/x-raw,format=RGBA,width=320,height=240 ! appsink name=out sync=false max-buffers=1"
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    share_gl_display(&pipeline);
    let m = pipeline.by_name("m").unwrap();
    let sink = pipeline
        .by_name("out")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut pts = Vec::new();
    let mut white = Vec::new();
    let mut added: Option<(gst::Element, gst::Pad)> = None;
    // Once the added input's src pad is blocked: (source, pad, "the probe fired").
    let mut blocking: Option<(gst::Element, gst::Pad, std::sync::mpsc::Receiver<()>)> = None;
    let started = std::time::Instant::now();
    loop {
        // The release happens here, on this thread, while the source's streaming thread waits in
        // the probe. Waiting for the probe without pulling would deadlock: the appsink holds one
        // buffer, so the mixer would stop taking input and the source never reach its probe.
        if let Some((_, _, fired)) = &blocking
            && fired.try_recv().is_ok()
        {
            let (source, pad, _) = blocking.take().unwrap();
            source.static_pad("src").unwrap().unlink(&pad).unwrap();
            m.release_request_pad(&pad);
            source.set_state(gst::State::Null).unwrap();
            pipeline.remove(&source).unwrap();
        }
        let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_mseconds(20)) else {
            if sink.is_eos() {
                break;
            }
            assert!(started.elapsed() < common::HANG, "{mode}: hang");
            continue;
        };
        let buffer = sample.buffer().unwrap();
        pts.push(buffer.pts().unwrap());
        let map = buffer.map_readable().unwrap();
        // The pixel at (40, 40), inside the added input.
        white.push(map[(40 * 320 + 40) * 4] > 200);
        drop(map);
        let position = buffer.pts().unwrap() + buffer.duration().unwrap();
        if pts.len() == 10 {
            let source = gst::parse::bin_from_description(
                "videotestsrc pattern=white ! capsfilter caps=video/x-raw,format=RGBA,width=64,height=64,framerate=30/1",
                true,
            )
            .unwrap();
            let pad = m.request_pad_simple("sink_%u").unwrap();
            pad.set_property("xpos", 10i32);
            pad.set_property("ypos", 10i32);
            pipeline.add(&source).unwrap();
            let src = source.static_pad("src").unwrap();
            // Its frames start now, in running time.
            src.set_offset(position.nseconds() as i64);
            src.link(&pad).unwrap();
            source.sync_state_with_parent().unwrap();
            added = Some((source.upcast(), pad));
        }
        if pts.len() == 40 {
            let (source, pad) = added.take().unwrap();
            let src = source.static_pad("src").unwrap();
            let (tx, rx) = std::sync::mpsc::channel();
            src.add_probe(gst::PadProbeType::BLOCK_DOWNSTREAM, move |_, _| {
                let _ = tx.send(());
                gst::PadProbeReturn::Ok
            });
            blocking = Some((source, pad, rx));
        }
    }
    let bus = pipeline.bus().unwrap();
    let eos = bus.timed_pop_filtered(TIMEOUT, &[gst::MessageType::Eos, gst::MessageType::Error]);
    pipeline.set_state(gst::State::Null).unwrap();
    assert!(
        matches!(
            eos.as_ref().map(|m| m.view()),
            Some(gst::MessageView::Eos(_))
        ),
        "{mode}: {eos:?}"
    );
    assert_eq!(pts.len(), FRAMES, "{mode}: output frames lost");
    for (i, pts) in pts.iter().enumerate() {
        let expected = gst::ClockTime::SECOND.mul_div_floor(i as u64, 30).unwrap();
        assert_eq!(*pts, expected, "{mode}: frame {i}");
    }
    assert!(
        !white[..10].iter().any(|w| *w),
        "{mode}: shown before it was added"
    );
    assert!(
        white[15..38].iter().all(|w| *w),
        "{mode}: not shown while linked: {white:?}"
    );
    assert!(
        !white[45..].iter().any(|w| *w),
        "{mode}: shown after it was released"
    );
    assert_eq!(m.num_sink_pads(), 1);
}

#[test]
fn a_pad_added_and_removed_mid_stream_loses_no_output_frame_software() {
    add_and_remove_mid_stream("software");
}

#[test]
fn a_pad_added_and_removed_mid_stream_loses_no_output_frame_gl() {
    add_and_remove_mid_stream("gl");
}

/// Moves a white input across a black one while playing; the mixer's own pad follows.
fn properties_while_playing(mode: &str) {
    init();
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=30 pattern=black ! video/x-raw,format=RGBA,width=160,height=120,framerate=30/1 ! m.sink_0 \
         videotestsrc num-buffers=30 pattern=white ! video/x-raw,format=RGBA,width=16,height=16,framerate=30/1 ! m.sink_1 \
         stromcompositor name=m mode={mode} background=black ! video/x-raw,format=RGBA,width=160,height=120 ! appsink name=out sync=false max-buffers=1"
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    share_gl_display(&pipeline);
    let m = pipeline.by_name("m").unwrap();
    let pad = m.static_pad("sink_1").unwrap();
    let sink = pipeline
        .by_name("out")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let pixel = |sample: &gst::Sample, x: usize, y: usize| {
        let map = sample.buffer().unwrap().map_readable().unwrap();
        map[(y * 160 + x) * 4]
    };
    let first = sink.try_pull_sample(TIMEOUT).unwrap();
    assert!(
        pixel(&first, 4, 4) > 200,
        "{mode}: white at the origin first"
    );
    pad.set_property("xpos", 100i32);
    pad.set_property("ypos", 80i32);
    pad.set_property("zorder", 5u32);
    // The mixer's pad has the values now; frames from here on show them.
    let target = pad
        .downcast_ref::<gst::GhostPad>()
        .unwrap()
        .target()
        .unwrap();
    let mixer_pad = target;
    assert_eq!(mixer_pad.property::<i32>("xpos"), 100, "{mode}");
    assert_eq!(mixer_pad.property::<i32>("ypos"), 80, "{mode}");
    assert_eq!(mixer_pad.property::<u32>("zorder"), 5, "{mode}");
    let mut last = None;
    while let Some(sample) = sink.try_pull_sample(TIMEOUT) {
        last = Some(sample);
    }
    let last = last.unwrap();
    assert!(
        pixel(&last, 4, 4) < 50,
        "{mode}: moved away from the origin"
    );
    assert!(
        pixel(&last, 108, 88) > 200,
        "{mode}: white at its new place"
    );
    pipeline.set_state(gst::State::Null).unwrap();
}

#[test]
fn pad_properties_set_while_playing_reach_the_mixer_software() {
    properties_while_playing("software");
}

#[test]
fn pad_properties_set_while_playing_reach_the_mixer_gl() {
    properties_while_playing("gl");
}

#[test]
fn pad_properties_from_gst_launch_syntax_reach_the_pads() {
    init();
    let pipeline = gst::parse::launch(
        "stromcompositor name=m sink_1::xpos=12 sink_1::alpha=0.25 sink_0::zorder=7 ! fakesink \
         videotestsrc num-buffers=1 ! m.  videotestsrc num-buffers=1 ! m.",
    )
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    share_gl_display(&pipeline);
    let m = pipeline.by_name("m").unwrap();
    let pad = |name: &str| m.static_pad(name).unwrap();
    assert_eq!(pad("sink_1").property::<i32>("xpos"), 12);
    assert_eq!(pad("sink_1").property::<f64>("alpha"), 0.25);
    assert_eq!(pad("sink_0").property::<u32>("zorder"), 7);
    let proxy = m.dynamic_cast_ref::<gst::ChildProxy>().unwrap();
    assert_eq!(proxy.children_count(), 2);
    assert_eq!(proxy.child_property::<i32>("sink_1::xpos"), 12);
    let run = run_to_eos(&pipeline, common::HANG);
    assert!(run.error().is_none(), "{:?}", run.error());
}

#[test]
fn element_properties_are_forwarded_to_either_mixer() {
    init();
    for mode in ["software", "gl"] {
        let pipeline = gst::parse::launch(&format!(
            "videotestsrc num-buffers=5 ! m.  stromcompositor name=m mode={mode} background=white \
             latency=20000000 min-upstream-latency=30000000 start-time-selection=first ! fakesink"
        ))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        share_gl_display(&pipeline);
        let m = pipeline.by_name("m").unwrap();
        pipeline.set_state(gst::State::Paused).unwrap();
        let bin = m.downcast_ref::<gst::Bin>().unwrap();
        let factory = if mode == "gl" {
            "glvideomixer"
        } else {
            "compositor"
        };
        let mixer = bin
            .iterate_elements()
            .into_iter()
            .flatten()
            .find(|e| e.factory().is_some_and(|f| f.name() == factory))
            .unwrap_or_else(|| panic!("{mode}: no {factory} inside"));
        let aggregator = if mode == "gl" {
            mixer.property::<gst::Element>("mixer")
        } else {
            mixer.clone()
        };
        let nick = |e: &gst::Element, name: &str| {
            let value = e.property_value(name);
            glib::EnumValue::from_value(&value).map(|(_, v)| v.nick().to_owned())
        };
        assert_eq!(
            nick(&mixer, "background").as_deref(),
            Some("white"),
            "{mode}"
        );
        assert_eq!(
            nick(&mixer, "start-time-selection").as_deref(),
            Some("first")
        );
        assert_eq!(mixer.property::<u64>("latency"), 20_000_000, "{mode}");
        assert_eq!(
            aggregator.property::<u64>("min-upstream-latency"),
            30_000_000
        );
        // And while it runs.
        m.set_property_from_str("background", "transparent");
        m.set_property("latency", 40_000_000u64);
        m.set_property("min-upstream-latency", 50_000_000u64);
        assert_eq!(
            nick(&mixer, "background").as_deref(),
            Some("transparent"),
            "{mode}"
        );
        assert_eq!(mixer.property::<u64>("latency"), 40_000_000, "{mode}");
        assert_eq!(
            aggregator.property::<u64>("min-upstream-latency"),
            50_000_000
        );
        pipeline.set_state(gst::State::Null).unwrap();
    }
}

#[test]
fn mode_changes_only_in_null_or_ready() {
    init();
    let pipeline = gst::parse::launch(
        "videotestsrc num-buffers=3 ! video/x-raw,width=64,height=48 ! m.  stromcompositor name=m mode=software ! fakesink",
    )
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    share_gl_display(&pipeline);
    let m = pipeline.by_name("m").unwrap();
    pipeline.set_state(gst::State::Paused).unwrap();
    let _ = pipeline.state(TIMEOUT);
    assert_eq!(m.property::<String>("active-path"), "software");
    m.set_property_from_str("mode", "gl");
    assert_eq!(
        m.property_value("mode")
            .get::<gststrom::compositor::Mode>()
            .unwrap(),
        gststrom::compositor::Mode::Software
    );
    let bus = pipeline.bus().unwrap();
    let warning = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(5),
            &[gst::MessageType::Warning],
        )
        .expect("a warning");
    let gst::MessageView::Warning(w) = warning.view() else {
        unreachable!()
    };
    assert!(
        w.error().to_string().contains("NULL or READY"),
        "{}",
        w.error()
    );
    // In READY it takes, and the next stream uses it.
    pipeline.set_state(gst::State::Ready).unwrap();
    m.set_property_from_str("mode", "gl");
    let run = run_to_eos(&pipeline, common::HANG);
    assert!(run.error().is_none(), "{:?}", run.error());
    assert_eq!(m.property::<String>("active-path"), "gl");
}

#[test]
fn zorder_above_glvideomixers_range_is_clamped_with_a_warning() {
    let inputs = || {
        vec![input(
            "videotestsrc num-buffers=2 ! video/x-raw,format=RGBA,width=64,height=48,framerate=30/1",
            &[("zorder", 20_000u32.to_value())],
        )]
    };
    let gl = mix(
        "stromcompositor mode=gl",
        &inputs(),
        "video/x-raw,format=RGBA",
    );
    assert!(gl.run.error().is_none(), "{:?}", gl.run.error());
    assert!(
        gl.run
            .warning_messages()
            .iter()
            .any(|w| w.contains("zorder") && w.contains("glvideomixer")),
        "{:?}",
        gl.run.warnings
    );
    let software = mix(
        "stromcompositor mode=software",
        &inputs(),
        "video/x-raw,format=RGBA",
    );
    assert!(
        software.run.warnings.is_empty(),
        "{:?}",
        software.run.warnings
    );
}

#[test]
fn a_consumer_of_neither_memory_is_refused_with_the_fix() {
    init();
    // Refused when linked, as compositor refuses it...
    assert!(
        gst::parse::launch("stromcompositor ! video/x-raw(memory:CUDAMemory) ! fakesink").is_err()
    );
    // ...and, when downstream changes its mind before playing, when the mixer is chosen.
    let pipeline = gst::parse::launch(
        "videotestsrc num-buffers=1 ! m.  stromcompositor name=m ! capsfilter name=f ! fakesink",
    )
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    share_gl_display(&pipeline);
    let caps: gst::Caps = "video/x-raw(memory:CUDAMemory)".parse().unwrap();
    pipeline.by_name("f").unwrap().set_property("caps", &caps);
    let error = play(&pipeline).error().expect("must fail");
    assert!(
        error.contains("memory:CUDAMemory") && error.contains("upload"),
        "{error}"
    );
}

#[test]
fn pads_numbered_like_compositors_and_stacked_in_request_order() {
    init();
    let m = gst::ElementFactory::make("stromcompositor")
        .build()
        .unwrap();
    let names: Vec<String> = ["sink_%u", "sink_7", "sink_1", "sink_%u"]
        .iter()
        .map(|n| m.request_pad_simple(n).unwrap().name().to_string())
        .collect();
    assert_eq!(names, ["sink_0", "sink_7", "sink_1", "sink_8"]);
    assert!(m.request_pad_simple("sink_7").is_none(), "names are unique");
    let zorder = |n: &str| m.static_pad(n).unwrap().property::<u32>("zorder");
    assert!(zorder("sink_7") > zorder("sink_0"));
    assert!(zorder("sink_8") > zorder("sink_1"));
}

// ---------------------------------------------------------------------------------------------
// Without GL: auto mixes in software, mode=gl names the fix. GL checks are cached per process, so
// these run in children.

fn print_outcome(mode: &str) {
    let mixed = mix(
        &format!("stromcompositor mode={mode}"),
        &[input(
            "videotestsrc num-buffers=2 ! video/x-raw,format=RGBA,width=64,height=48,framerate=30/1",
            &[],
        )],
        "video/x-raw,format=RGBA",
    );
    let reason = mixed
        .decisions()
        .first()
        .and_then(|d| d.get::<String>("reason").ok())
        .unwrap_or_default();
    common::report(&Outcome {
        path: mixed.active_path.unwrap_or_default(),
        reason,
        error: mixed.run.error().unwrap_or_default(),
        frames: mixed.frames.len(),
    });
}

/// What a child's mix came to.
#[derive(Debug, Serialize, Deserialize)]
struct Outcome {
    path: String,
    reason: String,
    error: String,
    frames: usize,
}

#[test]
#[ignore = "run by without_a_gl_context_auto_mixes_in_software_and_gl_mode_names_the_fix"]
fn child_without_gl_context() {
    if !is_child() {
        return;
    }
    print_outcome(&std::env::var("STROM_TEST_MODE").unwrap());
}

#[test]
fn without_a_gl_context_auto_mixes_in_software_and_gl_mode_names_the_fix() {
    // An X11 window system with no X server: no GL context can be made.
    let env = |mode| {
        [
            ("GST_GL_WINDOW", "x11"),
            ("GST_GL_PLATFORM", "glx"),
            ("DISPLAY", ":99"),
            ("STROM_TEST_MODE", mode),
        ]
    };
    let child = child_name!(child_without_gl_context);
    let auto: Outcome = run_child(&child, &env("auto")).report();
    assert_eq!(auto.path, "software", "{auto:?}");
    assert_eq!(auto.frames, 2, "{auto:?}");
    // Where no GPU device node exists auto mode does not try a context at all (any would
    // rasterise on the CPU); elsewhere it tries one and says it failed.
    assert!(
        auto.reason.starts_with("no GL context could be made")
            || auto.reason.starts_with("no GPU device node"),
        "{auto:?}"
    );
    let gl: Outcome = run_child(&child, &env("gl")).report();
    assert!(
        gl.error.contains("mode=gl needs GL")
            && gl
                .error
                .contains("GST_GL_WINDOW=egl-device GST_GL_PLATFORM=egl"),
        "{gl:?}"
    );
}

#[test]
#[ignore = "run by without_the_gl_plugin_auto_names_the_package"]
fn child_without_gl_plugin() {
    if !is_child() {
        return;
    }
    init();
    let registry = gst::Registry::get();
    if let Some(plugin) = registry.find_plugin("opengl") {
        registry.remove_plugin(&plugin);
    }
    print_outcome(&std::env::var("STROM_TEST_MODE").unwrap());
}

#[test]
fn without_the_gl_plugin_auto_names_the_package() {
    let child = child_name!(child_without_gl_plugin);
    let auto: Outcome = run_child(&child, &[("STROM_TEST_MODE", "auto")]).report();
    assert_eq!(auto.path, "software", "{auto:?}");
    assert!(
        auto.reason.contains("'glvideomixer' is missing")
            && auto.reason.contains("gstreamer1.0-gl"),
        "{auto:?}"
    );
    let gl: Outcome = run_child(&child, &[("STROM_TEST_MODE", "gl")]).report();
    assert!(
        gl.error.contains("glvideomixer") && gl.error.contains("apt-get install gstreamer1.0-gl"),
        "{gl:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The leaks tracer over the scenarios above, in a child that shuts GStreamer down.

#[test]
#[ignore = "run by leaks_tracer_finds_nothing_alive_after_mixing in its own process"]
fn child_leak_scenarios() {
    if !is_child() {
        return;
    }
    // STROM_LEAK_ONLY=name[,name...] runs some of them (to find which one leaks).
    let only = std::env::var("STROM_LEAK_ONLY").unwrap_or_default();
    let wanted = |name: &str| only.is_empty() || only.split(',').any(|o| o == name);
    for mode in ["software", "gl"] {
        if wanted(&format!("mix-{mode}")) {
            let mixer = format!("stromcompositor mode={mode} background=black");
            assert!(mix(&mixer, &four_inputs(), RGBA_OUT).run.error().is_none());
        }
        if wanted(&format!("add-remove-{mode}")) {
            add_and_remove_mid_stream(mode);
        }
    }
    if wanted("auto") {
        let auto = mix("stromcompositor", &two_inputs(), RGBA_OUT);
        assert!(auto.run.error().is_none());
    }
    let unused = gst::ElementFactory::make("stromcompositor")
        .build()
        .unwrap();
    let pad = unused.request_pad_simple("sink_%u").unwrap();
    unused.release_request_pad(&pad);
    drop((pad, unused));
    if std::env::var_os("STROM_LEAK_ON_PURPOSE").is_some() {
        std::mem::forget(
            gst::ElementFactory::make("stromcompositor")
                .build()
                .unwrap(),
        );
    }
    common::report(&"scenarios done");
    // SAFETY: no GStreamer object is used after this point and no other thread runs.
    unsafe { gst::deinit() };
}

fn leak_records(extra: &[(&str, &str)]) -> Vec<String> {
    let mut envs = common::LEAKS_TRACER.to_vec();
    envs.extend_from_slice(extra);
    let child = run_child(&child_name!(child_leak_scenarios), &envs);
    assert_eq!(child.report::<String>(), "scenarios done");
    let stderr = &child.stderr;
    assert!(
        stderr.contains("GST_TRACER"),
        "the leaks tracer did not run:\n{stderr}"
    );
    let criticals: Vec<&str> = stderr.lines().filter(|l| l.contains("CRITICAL")).collect();
    assert!(
        criticals.is_empty(),
        "GStreamer criticals:\n{}",
        criticals.join("\n")
    );
    stderr
        .lines()
        .filter(|l| l.contains("object-alive, type-name=(string)") && !l.contains("(string)%s"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn leaks_tracer_finds_nothing_alive_after_mixing() {
    let alive = leak_records(&[]);
    assert!(
        alive.is_empty(),
        "objects left alive:\n{}",
        alive.join("\n")
    );
    // The check can see a leak.
    let alive = leak_records(&[("STROM_LEAK_ON_PURPOSE", "1")]);
    assert!(
        alive.iter().any(|l| l.contains("GstStromCompositor")),
        "the leak made on purpose was not seen: {alive:?}"
    );
}

#[test]
fn default_zorders_are_compositors() {
    init();
    for mixer in ["compositor", "stromcompositor"] {
        let pipeline = gst::parse::launch(&format!(
            "{mixer} name=m ! fakesink  videotestsrc ! m.sink_0  videotestsrc ! m.sink_1  \
             videotestsrc ! m.sink_5"
        ))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        let m = pipeline.by_name("m").unwrap();
        let zorders: Vec<(String, u32)> = m
            .sink_pads()
            .iter()
            .map(|p| (p.name().to_string(), p.property::<u32>("zorder")))
            .collect();
        assert_eq!(
            zorders,
            [
                ("sink_0".to_owned(), 1),
                ("sink_1".to_owned(), 2),
                ("sink_5".to_owned(), 3)
            ],
            "{mixer}"
        );
    }
}

/// One GL display for every pipeline of this test process (parallel test threads that each open
/// an `egl-device` display terminate each other's EGLDisplay), except under the leaks tracer,
/// where the process-wide display would be reported alive.
fn share_gl_display(pipeline: &gst::Pipeline) {
    if std::env::var_os("GST_TRACERS").is_none() {
        common::share_gl_display(pipeline);
    }
}
