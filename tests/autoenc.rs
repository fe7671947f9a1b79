// SPDX-License-Identifier: MPL-2.0
//! `stromautoenc` with the encoders installed here (x264enc, openh264enc, x265enc, av1enc; no
//! GPU): real output decoded and its frames counted, the property mapping checked on every
//! installed encoder of the table, and the fallback driven by test-only encoders that fail to
//! open or fail on their first frame (`tests/fake_encoders`) and by an error injected into a
//! real encoder after its output has started.

mod common;
mod fake_encoders;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::glib;
use gst::prelude::*;

use fake_encoders::{
    FAIL_AFTER, FAIL_FRAME, FAIL_OPEN, FRAME_ERROR, GL_ENCODER, GL_REFUSING, OPEN_ERROR,
};
use gststrom::autoenc::plan;

const FRAMES: u32 = 60;

fn init() {
    common::init();
    fake_encoders::register();
}

fn present(factory: &str) -> bool {
    init();
    gst::ElementFactory::find(factory).is_some()
}

/// Which of `factories` are not installed here ("x264enc, x265enc not installed"); None when all
/// are. For `return common::skip(..)`.
fn missing(factories: &[&str]) -> Option<String> {
    let absent: Vec<&str> = factories.iter().copied().filter(|f| !present(f)).collect();
    (!absent.is_empty()).then(|| format!("{} not installed", absent.join(", ")))
}

/// The encoders of [`REAL_ENCODERS`] installed here; each missing one is reported as a skip.
fn installed_encoders() -> Vec<(&'static str, &'static str)> {
    let (installed, absent): (Vec<_>, Vec<_>) =
        REAL_ENCODERS.into_iter().partition(|(_, f)| present(f));
    for (codec, factory) in absent {
        common::skip(format_args!(
            "{factory} not installed: {codec} through it not checked"
        ));
    }
    installed
}

/// What came out of a pipeline through `stromautoenc`.
struct Encoded {
    samples: Vec<gst::Sample>,
    /// When each sample reached the appsink.
    arrivals: Vec<Instant>,
    run: common::BusLog,
}

impl Encoded {
    fn messages(&self) -> Vec<&gst::Structure> {
        self.run
            .element_messages
            .iter()
            .filter(|s| s.name() == "strom-autoenc")
            .collect()
    }

    /// The one `strom-autoenc` message of a run without a switch.
    fn message(&self) -> &gst::Structure {
        let messages = self.messages();
        assert_eq!(messages.len(), 1, "{:?}", self.run.element_messages);
        messages[0]
    }

    /// The encoded frames (one buffer each: the parser outputs whole access units here).
    fn frames(&self) -> Vec<&gst::BufferRef> {
        self.samples.iter().filter_map(|s| s.buffer()).collect()
    }

    fn bytes(&self) -> usize {
        self.frames().iter().map(|b| b.size()).sum()
    }

    fn keyframes(&self) -> usize {
        self.frames()
            .iter()
            .filter(|b| !b.flags().contains(gst::BufferFlags::DELTA_UNIT))
            .count()
    }

    /// The running time of every encoded frame in µs, sorted: which input frames came out
    /// (encoders round a little: 1 ns was seen).
    fn running_times(&self) -> Vec<u64> {
        let mut times: Vec<u64> = self
            .samples
            .iter()
            .filter_map(|s| {
                let buffer = s.buffer()?;
                let segment = s.segment()?.downcast_ref::<gst::ClockTime>()?;
                segment
                    .to_running_time(buffer.pts()?)
                    .map(|t| (t.nseconds() + 500) / 1000)
            })
            .collect();
        times.sort_unstable();
        times
    }

    fn assert_clean(&self) {
        assert!(self.run.error().is_none(), "error: {:?}", self.run.error());
        assert!(
            self.run.warnings.is_empty(),
            "warnings: {:?}",
            self.run.warnings
        );
    }
}

fn field(s: &gst::Structure, name: &str) -> String {
    s.get::<String>(name)
        .unwrap_or_else(|_| panic!("{name} in {s}"))
}

/// The running times in µs of `n` frames at 30 fps from 0, as videotestsrc stamps them.
fn expected_times(n: u32) -> Vec<u64> {
    (0..u64::from(n))
        .map(|i| {
            (gst::ClockTime::SECOND
                .mul_div_floor(i, 30)
                .unwrap()
                .nseconds()
                + 500)
                / 1000
        })
        .collect()
}

/// Encodes `frames` frames of `pattern` at 320x240, 30 fps, through `stromautoenc <props>`.
fn encode_with(
    props: &str,
    frames: u32,
    pattern: &str,
    setup: impl FnOnce(&gst::Element),
) -> Encoded {
    encode_from(
        &format!(
            "videotestsrc num-buffers={frames} pattern={pattern} \
             ! video/x-raw,width=320,height=240,framerate=30/1"
        ),
        props,
        setup,
    )
}

/// Encodes what `source` makes through `stromautoenc <props>`.
fn encode_from(source: &str, props: &str, setup: impl FnOnce(&gst::Element)) -> Encoded {
    init();
    let description =
        format!("{source} ! stromautoenc name=enc {props} ! appsink name=sink sync=false");
    let pipeline = gst::parse::launch(&description)
        .unwrap_or_else(|e| panic!("cannot parse '{description}': {e}"))
        .downcast::<gst::Pipeline>()
        .unwrap();
    setup(&pipeline.by_name("enc").unwrap());
    let samples = Arc::new(Mutex::new(Vec::new()));
    let collected = samples.clone();
    let sink = pipeline
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                collected.lock().unwrap().push((sample, Instant::now()));
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    let run = common::run_to_eos(&pipeline, std::time::Duration::from_secs(120));
    let (samples, arrivals) = std::mem::take(&mut *samples.lock().unwrap())
        .into_iter()
        .unzip();
    Encoded {
        samples,
        arrivals,
        run,
    }
}

fn encode(props: &str, frames: u32) -> Encoded {
    encode_with(props, frames, "ball", |_| {})
}

/// The H.264 decoder: avdec_h264 where it is installed (it decodes every profile), else
/// openh264dec. GStreamer 1.26's videoconvert gives x264enc Y444_10LE from RGBA (GL input), which
/// x264enc encodes as High 4:4:4, a profile OpenH264 does not decode; 1.22's gives a stream
/// openh264dec decodes, and Debian 12 runs the tests without gstreamer1.0-libav.
fn h264_decoder() -> &'static str {
    if present("avdec_h264") {
        "avdec_h264"
    } else {
        "openh264dec"
    }
}

/// Decodes `samples` (caps changes included) and returns the number of decoded frames.
fn decode(codec: &str, samples: &[gst::Sample]) -> usize {
    let (parser, decoder) = match codec {
        "h264" => ("h264parse", h264_decoder()),
        "h265" => ("h265parse", "libde265dec"),
        "av1" => ("av1parse", "av1dec"),
        other => panic!("no decoder for {other}"),
    };
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=src format=time handle-segment-change=true ! {parser} ! {decoder} ! fakesink name=out sync=false"
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let src = pipeline
        .by_name("src")
        .unwrap()
        .downcast::<gst_app::AppSrc>()
        .unwrap();
    let decoded = count_buffers(&pipeline);
    src.set_max_bytes(0);
    for sample in samples {
        src.push_sample(sample).expect("appsrc takes the sample");
    }
    src.end_of_stream().unwrap();
    let run = common::run_to_eos(&pipeline, std::time::Duration::from_secs(60));
    assert!(run.error().is_none(), "decoding failed: {:?}", run.error());
    decoded.load(Ordering::SeqCst)
}

/// Decodes each run of samples under one caps with a decoder of its own, and returns the sum.
/// One decoder across a switch would count one frame less: openh264dec drops the frame it
/// holds when caps change mid-stream (its renegotiation does not drain), which says nothing
/// about the stream.
fn decode_each_caps(codec: &str, samples: &[gst::Sample]) -> usize {
    samples
        .chunk_by(|a, b| a.caps() == b.caps())
        .map(|run| decode(codec, run))
        .sum()
}

/// Counts the buffers reaching the element named `out`.
fn count_buffers(pipeline: &gst::Pipeline) -> Arc<AtomicUsize> {
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    pipeline
        .by_name("out")
        .unwrap()
        .static_pad("sink")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            counter.fetch_add(1, Ordering::SeqCst);
            gst::PadProbeReturn::Ok
        });
    count
}

/// Runs `description` (with a sink named `out`) and returns the buffers it received.
fn count_frames(description: &str) -> usize {
    let pipeline = gst::parse::launch(description)
        .unwrap_or_else(|e| panic!("cannot parse '{description}': {e}"))
        .downcast::<gst::Pipeline>()
        .unwrap();
    let count = count_buffers(&pipeline);
    let run = common::run_to_eos(&pipeline, std::time::Duration::from_secs(120));
    assert!(run.error().is_none(), "{description}: {:?}", run.error());
    count.load(Ordering::SeqCst)
}

/// The installed encoders this test can decode, per codec.
const REAL_ENCODERS: [(&str, &str); 4] = [
    ("h264", "x264enc"),
    ("h264", "openh264enc"),
    ("h265", "x265enc"),
    ("av1", "av1enc"),
];

#[test]
fn every_installed_encoder_encodes_every_frame() {
    for (codec, factory) in installed_encoders() {
        let out = encode(&format!("codec={codec} candidates={factory}"), FRAMES);
        out.assert_clean();
        let m = out.message();
        assert_eq!(field(m, "encoder"), factory);
        assert_eq!(field(m, "codec"), codec);
        assert!(!m.get::<bool>("hardware").unwrap());
        assert_eq!(field(m, "convert-path"), "software");
        assert_eq!(field(m, "tried"), format!("{factory}: ok"));
        assert!(field(m, "reason").contains("first of candidates that opened"));
        assert_eq!(out.frames().len(), FRAMES as usize, "{factory}");
        assert_eq!(out.running_times(), expected_times(FRAMES), "{factory}");
        let decoded = decode(codec, &out.samples);
        println!(
            "{factory}: {decoded}/{FRAMES} frames decoded, {} bytes",
            out.bytes()
        );
        assert_eq!(decoded, FRAMES as usize, "{factory}");
    }
}

/// What `tried` says for the built-in order of `codec` under `tune` on this machine's registry,
/// and the encoder that order reaches; None when a hardware encoder is installed (its outcome
/// depends on the GPU, not on the registry).
fn expected_built_in(
    codec: gststrom::autoenc::Codec,
    tune: gststrom::autoenc::Tune,
) -> Option<(String, &'static str)> {
    let mut tried = Vec::new();
    for candidate in plan::order(codec, &[]) {
        let row = candidate.row.unwrap();
        if !present(row.factory) {
            tried.push(format!("{}: not registered", row.factory));
            continue;
        }
        if row.hardware {
            return None;
        }
        match plan::screen_tune(&candidate, tune) {
            Err(skipped) => tried.push(format!("{}: {skipped}", row.factory)),
            Ok(()) => {
                tried.push(format!("{}: ok", row.factory));
                return Some((tried.join("; "), row.factory));
            }
        }
    }
    None
}

/// The built-in order as this machine's registry (GStreamer 1.22 or 1.26) makes it: every
/// candidate before the chosen one is named with why it was passed over.
#[test]
fn the_built_in_order_reaches_the_installed_software_encoder() {
    use gststrom::autoenc::{Codec, Tune};
    for (codec, tune) in [
        (Codec::H264, Tune::LowLatency),
        (Codec::H265, Tune::LowLatency),
        (Codec::Av1, Tune::LowLatency),
        (Codec::Av1, Tune::Default),
    ] {
        let Some((tried, factory)) = expected_built_in(codec, tune) else {
            common::skip(format_args!(
                "{} with tune {tune:?}: a hardware encoder or no software encoder is installed",
                codec.nick()
            ));
            continue;
        };
        let tune_nick = if tune == Tune::LowLatency {
            "low-latency"
        } else {
            "default"
        };
        let out = encode(&format!("codec={} tune={tune_nick}", codec.nick()), 10);
        out.assert_clean();
        let m = out.message();
        assert_eq!(field(m, "encoder"), factory);
        assert_eq!(field(m, "tried"), tried);
        assert!(
            field(m, "reason").starts_with(&format!(
                "{factory} is the first of the built-in {} candidates",
                codec.label()
            )),
            "{m}"
        );
        assert_eq!(out.frames().len(), 10);
    }
}

/// `stromautoenc codec=av1` on GStreamer 1.24 and newer (Debian 13): SVT-AV1, not libaom's far
/// slower av1enc, and every frame decodes.
#[test]
fn av1_uses_svtav1enc_where_it_is_installed() {
    if !present("svtav1enc") {
        return common::skip("svtav1enc is not installed (GStreamer 1.22 has none)");
    }
    let out = encode("codec=av1", FRAMES);
    out.assert_clean();
    assert_eq!(field(out.message(), "encoder"), "svtav1enc");
    assert_eq!(out.frames().len(), FRAMES as usize);
    assert_eq!(decode("av1", &out.samples), FRAMES as usize);
}

/// How long `stromautoenc <props>` takes to reach PAUSED.
fn time_to_paused(props: &str) -> Duration {
    init();
    let pipeline = gst::parse::launch(&format!("videotestsrc ! stromautoenc {props} ! fakesink"))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    let start = Instant::now();
    pipeline.set_state(gst::State::Paused).unwrap();
    let elapsed = start.elapsed();
    pipeline.set_state(gst::State::Null).unwrap();
    elapsed
}

#[test]
fn opening_past_failed_candidates_costs_little() {
    // Measured, not asserted (the machine is shared): each is the best of 3.
    let best = |props: &str| (0..3).map(|_| time_to_paused(props)).min().unwrap();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let direct = best("candidates=x264enc");
    let built_in = best("");
    let past_failure = best(&format!("candidates={FAIL_OPEN},x264enc"));
    println!(
        "to PAUSED: x264enc alone {:.2} ms; built-in order (5 unregistered first) {:.2} ms; \
         past a candidate that fails to open {:.2} ms",
        ms(direct),
        ms(built_in),
        ms(past_failure)
    );
}

#[test]
fn an_encoder_that_fails_to_open_is_replaced_and_no_frame_is_lost() {
    let out = encode(&format!("candidates={FAIL_OPEN},x264enc"), FRAMES);
    out.assert_clean();
    let m = out.message();
    assert_eq!(field(m, "encoder"), "x264enc");
    let tried = field(m, "tried");
    // Its error is NVENC's session refusal: it was tried once more on system memory first.
    assert!(
        tried.starts_with(&format!(
            "{FAIL_OPEN}: failed to open: {OPEN_ERROR} (test-only encoder that never opens); \
             {FAIL_OPEN} (system memory): failed to open: {OPEN_ERROR}"
        )) && tried.ends_with("; x264enc: ok"),
        "{tried}"
    );
    assert!(field(m, "reason").ends_with("1 candidate before it failed, see tried"));
    assert_eq!(out.running_times(), expected_times(FRAMES));
    assert_eq!(decode("h264", &out.samples), FRAMES as usize);
}

/// A hardware encoder refusing GL memory with NVENC's session error (point 5 of issue #24) is
/// opened again on system memory before the next candidate; the message and a warning say so,
/// and no frame is lost.
#[test]
fn a_hardware_encoder_refusing_gl_memory_is_retried_on_system_memory() {
    if let Some(why) = missing(&["x264enc", "gldownload"]) {
        return common::skip(why);
    }
    let out = encode(&format!("candidates={GL_REFUSING},openh264enc"), FRAMES);
    assert!(out.run.error().is_none(), "{:?}", out.run.error());
    let m = out.message();
    assert_eq!(field(m, "encoder"), GL_REFUSING);
    assert_eq!(field(m, "convert-path"), "software");
    let reason = field(m, "reason");
    assert!(
        reason.starts_with(&format!(
            "retried {GL_REFUSING} on system memory: session refused"
        )) && reason.contains("NV_ENC_ERR_OUT_OF_MEMORY"),
        "{reason}"
    );
    assert_eq!(out.run.warnings.len(), 1, "{:?}", out.run.warnings);
    assert!(
        out.run.warnings[0]
            .message
            .starts_with(&format!("retried {GL_REFUSING}"))
    );
    let tried = field(m, "tried");
    assert!(
        tried.starts_with(&format!("{GL_REFUSING}: failed before its first output"))
            && tried.contains(&format!("; {GL_REFUSING} (system memory): ok")),
        "{tried}"
    );
    assert_eq!(out.running_times(), expected_times(FRAMES));
    assert_eq!(decode("h264", &out.samples), FRAMES as usize);
}

#[test]
fn an_encoder_that_fails_on_its_first_frame_hands_the_frames_on() {
    let out = encode(&format!("candidates={FAIL_FRAME},x264enc"), FRAMES);
    out.assert_clean();
    let m = out.message();
    assert_eq!(field(m, "encoder"), "x264enc");
    let tried = field(m, "tried");
    assert!(
        tried.starts_with(&format!(
            "{FAIL_FRAME}: failed before its first output: {FRAME_ERROR}"
        )) && tried.ends_with("; x264enc: ok"),
        "{tried}"
    );
    // The frame it failed on is the first one x264enc encodes.
    assert_eq!(out.running_times(), expected_times(FRAMES));
    assert!(
        !out.frames()[0]
            .flags()
            .contains(gst::BufferFlags::DELTA_UNIT)
    );
    assert_eq!(decode("h264", &out.samples), FRAMES as usize);
}

#[test]
fn both_failures_in_a_row_then_a_working_encoder() {
    let out = encode(
        &format!("candidates={FAIL_OPEN},{FAIL_FRAME},openh264enc"),
        FRAMES,
    );
    out.assert_clean();
    let m = out.message();
    assert_eq!(field(m, "encoder"), "openh264enc");
    assert!(field(m, "reason").ends_with("2 candidates before it failed, see tried"));
    assert_eq!(out.running_times(), expected_times(FRAMES));
    assert_eq!(decode("h264", &out.samples), FRAMES as usize);
}

#[test]
fn preference_hardware_without_a_hardware_encoder_is_an_error_naming_what_was_tried() {
    if present("nvh264enc") || present("nvautogpuh264enc") {
        // The built-in order reaches a hardware encoder here; what it does depends on the GPU.
        common::skip(
            "nvcodec's H.264 encoders are installed: the order without them is not checked",
        );
    } else {
        let out = encode("preference=hardware", 10);
        let error = out.run.error().expect("an element error");
        assert!(
            error.contains(
                "no hardware H.264 encoder opened (preference=hardware); tried: nvh264enc: not \
                 registered; nvautogpuh264enc: not registered"
            ) && error.contains("x264enc: skipped (software; preference=hardware)")
                && error.contains("preference=auto"),
            "{error}"
        );
        assert!(out.samples.is_empty());
    }

    // Hardware candidates that open but fail are named with their errors.
    let out = encode(
        &format!("preference=hardware candidates={FAIL_OPEN},{FAIL_FRAME},x264enc"),
        10,
    );
    let error = out.run.error().expect("an element error");
    assert!(
        error.contains(&format!("{FAIL_OPEN}: failed to open: {OPEN_ERROR}"))
            && error.contains(&format!(
                "{FAIL_FRAME}: failed before its first output: {FRAME_ERROR}"
            ))
            && error.contains("x264enc: skipped (software; preference=hardware)"),
        "{error}"
    );
}

#[test]
fn preference_software_skips_hardware_candidates() {
    let out = encode(
        &format!("preference=software candidates={FAIL_FRAME},x264enc"),
        10,
    );
    out.assert_clean();
    assert_eq!(
        field(out.message(), "tried"),
        format!("{FAIL_FRAME}: skipped (hardware; preference=software); x264enc: ok")
    );
}

#[test]
fn unknown_and_wrong_codec_candidates_are_named() {
    if let Some(missing) = missing(&["x265enc"]) {
        return common::skip(missing);
    }
    let out = encode("candidates=nosuchenc,x265enc,x264enc", 10);
    out.assert_clean();
    assert_eq!(
        field(out.message(), "tried"),
        "nosuchenc: not registered; x265enc: not an H.264 encoder (makes H.265); x264enc: ok"
    );
    let out = encode("candidates=nosuchenc", 10);
    let error = out.run.error().expect("an element error");
    assert!(
        error.contains(
            "no H.264 encoder among the candidates; tried: nosuchenc: not registered. \
             Installed but not in candidates: x264enc"
        ),
        "{error}"
    );
}

#[test]
fn bitrate_reaches_each_encoder_in_its_own_unit() {
    // A moving zone plate is detailed enough that the size follows the bitrate over this
    // range: a unit mistake (bit/s for kbit/s) would be off by a factor of 1000.
    for (codec, factory) in installed_encoders() {
        let size_at = |kbps: u32| {
            let out = encode_with(
                &format!("codec={codec} candidates={factory} bitrate={kbps} tune=low-latency"),
                FRAMES,
                "zone-plate kx2=20 ky2=20 kt=1",
                |_| {},
            );
            out.assert_clean();
            out.bytes()
        };
        let (low, high) = (size_at(250), size_at(2000));
        // 2 s of video: the target sizes are 62.5 kB and 500 kB.
        println!("{factory}: 250 kbit/s -> {low} bytes, 2000 kbit/s -> {high} bytes");
        assert!(high > 3 * low, "{factory}: {low} vs {high}");
        for (kbps, size) in [(250u64, low), (2000, high)] {
            let target = kbps * 1000 / 8 * 2;
            assert!(
                (target / 4..target * 4).contains(&(size as u64)),
                "{factory} at {kbps} kbit/s: {size} bytes, target {target}"
            );
        }
    }
}

#[test]
fn gop_size_sets_the_keyframe_interval() {
    for (codec, factory) in installed_encoders() {
        for (gop, keyframes) in [(15, 4), (30, 2)] {
            let out = encode(
                &format!("codec={codec} candidates={factory} gop-size={gop} tune=low-latency"),
                FRAMES,
            );
            out.assert_clean();
            assert_eq!(out.keyframes(), keyframes, "{factory} gop-size={gop}");
        }
    }
}

/// The encoder child of a bin in PAUSED or later.
fn encoder_of(bin: &gst::Element, factory: &str) -> gst::Element {
    bin.downcast_ref::<gst::Bin>()
        .unwrap()
        .iterate_recurse()
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| e.factory().is_some_and(|f| f.name() == factory))
        .unwrap_or_else(|| panic!("no {factory} inside"))
}

/// Whether `element`'s `property` holds the table's `value`.
fn holds(element: &gst::Element, property: &str, value: plan::Value) -> bool {
    let actual = element.property_value(property);
    match value {
        plan::Value::Bool(b) => actual.get::<bool>() == Ok(b),
        plan::Value::Int(i) => {
            actual
                .transform::<i64>()
                .ok()
                .and_then(|v| v.get::<i64>().ok())
                == Some(i)
        }
        // Enums and flags: the nick as the element itself parses it, compared as numbers.
        plan::Value::Nick(nick) => {
            let pspec = element.find_property(property).unwrap();
            let as_int =
                |v: &glib::Value| v.transform::<i64>().ok().and_then(|v| v.get::<i64>().ok());
            glib::Value::deserialize_with_pspec(nick, &pspec).is_ok_and(|expected| {
                as_int(&expected).is_some() && as_int(&expected) == as_int(&actual)
            })
        }
        plan::Value::Text(text) => {
            actual.get::<Option<String>>().ok().flatten().as_deref() == Some(text)
        }
    }
}

#[test]
fn the_mapping_holds_on_every_installed_encoder_of_the_table() {
    init();
    let (installed, missing): (Vec<&plan::EncoderRow>, Vec<_>) = plan::TABLE
        .iter()
        .partition(|r| gst::ElementFactory::find(r.factory).is_some());
    for row in missing {
        common::skip(format_args!(
            "{} is not installed: its mapping is not checked",
            row.factory
        ));
    }
    assert!(!installed.is_empty());
    for row in installed {
        for tune in ["default", "low-latency"] {
            if tune == "low-latency"
                && let Some(why) = row.no_low_latency
            {
                // Skipped, and the error says why instead of "not installed".
                let (_, log) = common::run_launch(&format!(
                    "videotestsrc num-buffers=2 ! stromautoenc codec={} candidates={} \
                     tune=low-latency ! fakesink",
                    row.codec.nick(),
                    row.factory
                ));
                let error = log.error().unwrap_or_default();
                assert!(error.contains(why), "{}: {error}", row.factory);
                continue;
            }
            let pipeline = gst::parse::launch(&format!(
                "videotestsrc ! stromautoenc name=enc codec={} candidates={} bitrate=1234 \
                 gop-size=45 tune={tune} ! fakesink",
                row.codec.nick(),
                row.factory
            ))
            .unwrap()
            .downcast::<gst::Pipeline>()
            .unwrap();
            pipeline.set_state(gst::State::Paused).expect("opens");
            let bin = pipeline.by_name("enc").unwrap();
            assert_eq!(bin.property::<String>("active-encoder"), row.factory);
            let encoder = encoder_of(&bin, row.factory);
            let settings = plan::settings_for(
                row,
                &plan::EncodeSettings {
                    bitrate_kbps: 1234,
                    gop_size: 45,
                    tune: if tune == "default" {
                        gststrom::autoenc::Tune::Default
                    } else {
                        gststrom::autoenc::Tune::LowLatency
                    },
                },
            );
            // Later settings win (tune=low-latency's cpu-used over av1enc's usual one).
            let mut expected: Vec<(&str, plan::Value)> = Vec::new();
            for setting in settings {
                let spelled = setting
                    .alternatives
                    .iter()
                    .find(|(name, _)| encoder.find_property(name).is_some());
                let Some(&(name, value)) = spelled else {
                    assert!(!setting.required, "{}: no {}", row.factory, setting.what);
                    continue;
                };
                expected.retain(|(n, _)| *n != name);
                expected.push((name, value));
            }
            for (name, value) in expected {
                assert!(
                    holds(&encoder, name, value),
                    "{}: {name} is {:?}, the table says {value:?}",
                    row.factory,
                    encoder.property_value(name)
                );
            }
            pipeline.set_state(gst::State::Null).unwrap();
        }
    }
}

/// `gst_harness` answers a latency query live; these checks are about a non-live stream, where
/// the bin puts no output queue after the encoder (see `src/autoenc/outlet.rs`) and a push
/// returns once its output has gone downstream.
fn not_live(h: &gst_check::Harness) {
    let Some(pad) = h.srcpad() else { return };
    pad.add_probe(gst::PadProbeType::QUERY_UPSTREAM, |_, info| {
        if let Some(gst::PadProbeData::Query(query)) = &mut info.data
            && let gst::QueryViewMut::Latency(latency) = query.view_mut()
        {
            latency.set(false, gst::ClockTime::ZERO, gst::ClockTime::NONE);
            return gst::PadProbeReturn::Handled;
        }
        gst::PadProbeReturn::Ok
    });
}

#[test]
fn low_latency_returns_each_frame_before_the_next_is_pushed() {
    init();
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, 320, 240)
        .fps(gst::Fraction::new(30, 1))
        .build()
        .unwrap();
    let frame = |n: u64| {
        let mut buffer = gst::Buffer::with_size(info.size()).unwrap();
        {
            let b = buffer.get_mut().unwrap();
            b.set_pts(gst::ClockTime::from_mseconds(n * 33));
            b.set_duration(gst::ClockTime::from_mseconds(33));
            b.map_writable().unwrap().fill((n * 40) as u8);
        }
        buffer
    };
    for (codec, factory) in installed_encoders() {
        let mut h = gst_check::Harness::new_parse(&format!(
            "stromautoenc codec={codec} candidates={factory} tune=low-latency"
        ));
        h.set_src_caps(info.to_caps().unwrap());
        not_live(&h);
        h.play();
        for n in 0..5 {
            h.push(frame(n)).expect("the frame is taken");
            // The encoders here encode in the pushing thread: when the push returns, a
            // low-latency encoder has already sent the frame on.
            let out = h.try_pull();
            assert!(
                out.is_some(),
                "{factory}: frame {n} not returned before frame {} is pushed",
                n + 1
            );
            if n == 0 {
                assert!(!out.unwrap().flags().contains(gst::BufferFlags::DELTA_UNIT));
            }
        }
    }
    // The same check with x264enc's defaults (lookahead, B-frames) fails: the tune matters.
    let mut h = gst_check::Harness::new_parse("stromautoenc candidates=x264enc");
    h.set_src_caps(info.to_caps().unwrap());
    not_live(&h);
    h.play();
    h.push(frame(0)).unwrap();
    assert!(h.try_pull().is_none());
}

/// Makes the first `factory` built inside `bin` fail on its `at`-th buffer, as a GPU encoder
/// does when its device goes away: it posts an error, from the streaming thread or (`from_thread`)
/// from a thread of its own, and returns an error flow (`flow`) or lets the buffer through.
fn inject_failure(bin: &gst::Element, factory: &'static str, at: usize, from_thread: bool) {
    on_first(bin, factory, move |encoder| {
        fail_on_buffer(encoder, at, from_thread)
    });
}

/// Runs `hook` on the first `factory` element built inside `bin`.
fn on_first(
    bin: &gst::Element,
    factory: &'static str,
    hook: impl Fn(&gst::Element) + Send + Sync + 'static,
) {
    let bin = bin.clone().downcast::<gst::Bin>().unwrap();
    let injected = Arc::new(AtomicUsize::new(0));
    bin.connect_deep_element_added(move |_, _, element| {
        let matches = element.factory().is_some_and(|f| f.name() == factory);
        if matches && injected.fetch_add(1, Ordering::SeqCst) == 0 {
            hook(element);
        }
    });
}

fn simulated_loss(encoder: &gst::Element) {
    encoder.post_error_message(gst::error_msg!(
        gst::ResourceError::Failed,
        ("simulated GPU loss")
    ));
}

fn fail_on_buffer(encoder: &gst::Element, at: usize, from_thread: bool) {
    let encoder_ref = encoder.clone();
    let seen = AtomicUsize::new(0);
    encoder
        .static_pad("sink")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if seen.fetch_add(1, Ordering::SeqCst) + 1 != at {
                return gst::PadProbeReturn::Ok;
            }
            if from_thread {
                let encoder = encoder_ref.clone();
                std::thread::spawn(move || simulated_loss(&encoder))
                    .join()
                    .unwrap();
                return gst::PadProbeReturn::Ok;
            }
            simulated_loss(&encoder_ref);
            info.flow_res = Err(gst::FlowError::Error);
            gst::PadProbeReturn::Handled
        });
}

/// The encoder fails to drain: it posts an error when EOS reaches it, and the EOS goes no
/// further.
fn fail_on_eos(encoder: &gst::Element) {
    let encoder_ref = encoder.clone();
    encoder.static_pad("sink").unwrap().add_probe(
        gst::PadProbeType::EVENT_DOWNSTREAM,
        move |_, info| match &info.data {
            Some(gst::PadProbeData::Event(e)) if e.type_() == gst::EventType::Eos => {
                simulated_loss(&encoder_ref);
                gst::PadProbeReturn::Handled
            }
            _ => gst::PadProbeReturn::Ok,
        },
    );
}

fn assert_switched(out: &Encoded, from: &str, to: &str) {
    assert!(out.run.error().is_none(), "error: {:?}", out.run.error());
    assert_eq!(out.run.warnings.len(), 1, "{:?}", out.run.warnings);
    let warning = &out.run.warnings[0].message;
    assert!(
        warning.starts_with(&format!("{from} failed after "))
            && warning.contains("simulated GPU loss")
            && warning.contains(&format!("switched to {to} with a new keyframe (")),
        "{warning}"
    );
    let messages = out.messages();
    let encoders: Vec<String> = messages.iter().map(|m| field(m, "encoder")).collect();
    assert_eq!(encoders, [from, to]);
    assert_eq!(field(messages[1], "reason"), *warning);
    assert!(field(messages[1], "tried").contains(&format!("{from}: failed after ")));
    // No frame lost, none twice.
    assert_eq!(out.running_times(), expected_times(FRAMES));
    // The new encoder starts with a keyframe, under new caps.
    let first_new = out
        .samples
        .iter()
        .position(|s| s.caps() != out.samples[0].caps())
        .expect("new caps after the switch");
    let buffer = out.samples[first_new].buffer().unwrap();
    assert!(!buffer.flags().contains(gst::BufferFlags::DELTA_UNIT));
    // Measured, not asserted: how long the switch held the stream up.
    let mut gaps: Vec<Duration> = out.arrivals.windows(2).map(|w| w[1] - w[0]).collect();
    let switch_gap = gaps[first_new - 1];
    gaps.sort_unstable();
    println!(
        "{from} -> {to}: {} frames from {from}, then {to}; gap at the switch {:.1} ms, median gap \
         {:.2} ms",
        first_new,
        switch_gap.as_secs_f64() * 1000.0,
        gaps[gaps.len() / 2].as_secs_f64() * 1000.0
    );
    assert_eq!(decode_each_caps("h264", &out.samples), FRAMES as usize);
}

#[test]
fn a_failure_after_output_started_switches_with_a_keyframe() {
    let out = encode_with(
        "candidates=x264enc,openh264enc tune=low-latency",
        FRAMES,
        "ball",
        |bin| inject_failure(bin, "x264enc", 20, false),
    );
    assert_switched(&out, "x264enc", "openh264enc");
    assert!(field(out.messages()[1], "tried").starts_with("x264enc: failed after 19 frames"));
}

#[test]
fn a_reordering_encoder_hands_on_the_frames_it_still_held() {
    // x264enc's defaults hold frames (lookahead, B-frames): at the failure, those it took but
    // had not returned go to the next encoder.
    let out = encode_with("candidates=x264enc,openh264enc", FRAMES, "ball", |bin| {
        inject_failure(bin, "x264enc", 50, false)
    });
    assert_switched(&out, "x264enc", "openh264enc");
    let tried = field(out.messages()[1], "tried");
    let returned: u64 = tried["x264enc: failed after ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    println!("x264enc returned {returned} of the 49 frames it took before failing");
    assert!(returned < 49, "{tried}");
}

#[test]
fn an_error_from_an_encoder_thread_switches_at_the_next_buffer() {
    let out = encode_with(
        "candidates=x264enc,openh264enc tune=low-latency",
        FRAMES,
        "ball",
        |bin| inject_failure(bin, "x264enc", 20, true),
    );
    assert_switched(&out, "x264enc", "openh264enc");
}

/// The stand-in hardware encoder (x264enc inside, B-frames) fails mid-stream, its output
/// coming from the streaming thread or from a thread of its own (where the announcement and
/// the output of the failed encoder race the switch): every frame once, in order.
#[test]
fn a_threaded_encoder_with_b_frames_failing_mid_stream_hands_every_frame_on() {
    if let Some(why) = missing(&["x264enc", "openh264enc"]) {
        return common::skip(why);
    }
    for threaded in [false, true] {
        let out = encode_with(
            &format!("candidates={FAIL_AFTER},openh264enc"),
            FRAMES,
            "ball",
            move |bin| {
                on_first(bin, FAIL_AFTER, move |encoder| {
                    encoder.set_property("fail-after", 20u32);
                    encoder.set_property("bframes", 2u32);
                    encoder.set_property("threaded", threaded);
                })
            },
        );
        println!(
            "threaded={threaded}: {:?}",
            out.messages()
                .iter()
                .map(|m| field(m, "tried"))
                .collect::<Vec<_>>()
        );
        assert_switched(&out, FAIL_AFTER, "openh264enc");
    }
}

/// A failed encoder that does not stop (its PAUSED→READY takes 4.5 s, as a hung GPU encoder's
/// may never return) is abandoned with a warning after 3 s; the stream goes on with every frame.
#[test]
fn an_encoder_that_will_not_stop_is_abandoned_with_a_warning() {
    if let Some(why) = missing(&["x264enc", "openh264enc"]) {
        return common::skip(why);
    }
    let out = encode_with(
        &format!("candidates={FAIL_AFTER},openh264enc"),
        FRAMES,
        "ball",
        |bin| {
            on_first(bin, FAIL_AFTER, |encoder| {
                encoder.set_property("fail-after", 20u32);
                encoder.set_property("stop-delay", 4500u32);
            })
        },
    );
    assert!(out.run.error().is_none(), "{:?}", out.run.error());
    let warnings = out.run.warning_messages();
    assert!(
        warnings
            .iter()
            .any(|w| w == &format!("{FAIL_AFTER} did not stop within 3 s: abandoned (its resources are freed if it ever stops)")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with(&format!("{FAIL_AFTER} failed after "))),
        "{warnings:?}"
    );
    assert_eq!(out.running_times(), expected_times(FRAMES));
    assert_eq!(decode_each_caps("h264", &out.samples), FRAMES as usize);
}

/// The running time of `buffer`'s PTS in the segment `pad` last saw.
fn running_time_at(pad: &gst::Pad, buffer: &gst::BufferRef) -> Option<u64> {
    let event = pad.sticky_event::<gst::event::Segment>(0)?;
    let segment = event.segment().downcast_ref::<gst::ClockTime>()?;
    segment.to_running_time(buffer.pts()?).map(|t| t.nseconds())
}

/// What a sync=true sink saw of a live switch (see [`live_switch`]).
struct LiveSwitch {
    run: common::BusLog,
    rendered: usize,
    missing: Vec<Option<u64>>,
    qos: usize,
    segments: Vec<gst::Segment>,
    caps: Vec<gst::Caps>,
}

/// Runs 60 frames of `videotestsrc is-live=true` through a threaded stand-in that fails on its
/// 20th frame and takes `stop_delay_ms` to stop, then `openh264enc`, into `fakesink sync=true
/// max-lateness=20000000 qos=true`; `switch_latency_ns` sets the bin's property when given,
/// `output` (e.g. `video/x-h264,stream-format=avc`) filters the bin's output.
fn live_switch(stop_delay_ms: u32, switch_latency_ns: Option<u64>, output: &str) -> LiveSwitch {
    let latency = switch_latency_ns.map_or(String::new(), |ns| format!("switch-latency={ns}"));
    let pipeline = common::launch(&format!(
        "videotestsrc is-live=true num-buffers={FRAMES} \
         ! video/x-raw,width=320,height=240,framerate=30/1 \
         ! stromautoenc name=enc candidates={FAIL_AFTER},openh264enc tune=low-latency {latency} \
         ! capsfilter caps={output} ! fakesink name=out sync=true max-lateness=20000000 signal-handoffs=true qos=true"
    ));
    on_first(
        &pipeline.by_name("enc").unwrap(),
        FAIL_AFTER,
        move |encoder| {
            encoder.set_property("fail-after", 20u32);
            encoder.set_property("threaded", true);
            encoder.set_property("stop-delay", stop_delay_ms);
            // What tune=low-latency gives an encoder of the table (the stand-in is not in it): no
            // B-frames and no latency of its own, so that only switch-latency covers the switch.
            encoder.set_property("bframes", 0u32);
            encoder.set_property("zero-latency", true);
        },
    );
    let sink = pipeline.by_name("out").unwrap();
    let rendered = Arc::new(Mutex::new(Vec::new()));
    let times = rendered.clone();
    sink.connect("handoff", false, move |args| {
        let buffer = args[1].get::<gst::Buffer>().unwrap();
        let pad = args[2].get::<gst::Pad>().unwrap();
        times.lock().unwrap().push(running_time_at(&pad, &buffer));
        None
    });
    let sent = Arc::new(Mutex::new(Vec::new()));
    let into = sent.clone();
    pipeline
        .by_name("enc")
        .unwrap()
        .static_pad("sink")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
            if let Some(buffer) = info.buffer() {
                into.lock().unwrap().push(running_time_at(pad, buffer));
            }
            gst::PadProbeReturn::Ok
        });
    let segments = Arc::new(Mutex::new(Vec::new()));
    let seen = segments.clone();
    let caps = Arc::new(Mutex::new(Vec::new()));
    let seen_caps = caps.clone();
    sink.static_pad("sink").unwrap().add_probe(
        gst::PadProbeType::EVENT_DOWNSTREAM,
        move |_, info| {
            if let Some(gst::PadProbeData::Event(event)) = &info.data {
                match event.view() {
                    gst::EventView::Segment(s) => seen.lock().unwrap().push(s.segment().clone()),
                    gst::EventView::Caps(c) => seen_caps.lock().unwrap().push(c.caps_owned()),
                    _ => {}
                }
            }
            gst::PadProbeReturn::Ok
        },
    );
    let bus = pipeline.bus().unwrap();
    let qos = Arc::new(AtomicUsize::new(0));
    let late = qos.clone();
    bus.enable_sync_message_emission();
    bus.connect_sync_message(None, move |_, message| {
        if let gst::MessageView::Qos(_) = message.view() {
            late.fetch_add(1, Ordering::SeqCst);
        }
    });
    let run = common::run_to_eos(&pipeline, Duration::from_secs(60));
    pipeline.set_state(gst::State::Null).unwrap();
    let rendered = rendered.lock().unwrap().clone();
    // Encoders round a timestamp by a nanosecond or so: compared in ms.
    let ms = |rt: &Option<u64>| rt.map(|t| (t + 500_000) / 1_000_000);
    let out: Vec<_> = rendered.iter().map(ms).collect();
    let missing: Vec<_> = sent
        .lock()
        .unwrap()
        .iter()
        .map(ms)
        .filter(|t| !out.contains(t))
        .collect();
    let segments = segments.lock().unwrap().clone();
    let caps = caps.lock().unwrap().clone();
    let qos = qos.load(Ordering::SeqCst);
    println!(
        "live switch (stop-delay {stop_delay_ms} ms, switch-latency {switch_latency_ns:?}): \
         {} of {FRAMES} rendered {out:?}, missing {missing:?}, {qos} QoS messages, {} segments",
        rendered.len(),
        segments.len()
    );
    LiveSwitch {
        run,
        rendered: rendered.len(),
        missing,
        qos,
        segments,
        caps,
    }
}

/// Every frame rendered, none late, one segment, the stream ended with the switch's warning.
fn assert_all_rendered(live: &LiveSwitch) {
    assert!(live.run.error().is_none(), "{:?}", live.run.error());
    assert_eq!(live.run.warnings.len(), 1, "{:?}", live.run.warnings);
    assert!(
        live.missing.is_empty(),
        "frames not rendered: {:?}",
        live.missing
    );
    assert_eq!(live.rendered, FRAMES as usize);
    assert_eq!(live.qos, 0, "frames dropped as late");
    assert!(
        live.segments.windows(2).all(|w| w[0] == w[1]),
        "the segment changed across the switch: {:?}",
        live.segments
    );
}

/// A switch in a live pipeline (`videotestsrc is-live=true`, a `sync=true` sink that drops
/// frames more than 20 ms late): every frame is rendered, the replayed ones included, because
/// the latency the bin reports covers the switch (`switch-latency`); the sink sees one segment.
#[test]
fn a_switch_with_a_live_source_renders_every_frame() {
    if let Some(why) = missing(&["x264enc", "openh264enc"]) {
        return common::skip(why);
    }
    init();
    assert_all_rendered(&live_switch(0, None, "video/x-h264"));
}

/// The failed encoder takes 150 ms to stop: the frames its output thread had encoded are in
/// the bin's output queue, not waiting inside it on the sink, so only the frame truly inside it
/// is replayed and `switch-latency` covers the stall.
#[test]
fn a_slow_stop_in_a_live_switch_renders_every_frame() {
    if let Some(why) = missing(&["x264enc", "openh264enc"]) {
        return common::skip(why);
    }
    init();
    assert_all_rendered(&live_switch(150, None, "video/x-h264"));
}

/// The same into `stream-format=avc` (as `mp4mux` asks): through the output queue downstream
/// keeps the caps it has (`codec_data`; the new encoder's parameter sets go in-band).
#[test]
fn a_slow_live_switch_into_avc_keeps_the_caps() {
    if let Some(why) = missing(&["x264enc", "openh264enc"]) {
        return common::skip(why);
    }
    init();
    let live = live_switch(150, None, "video/x-h264,stream-format=avc");
    assert_all_rendered(&live);
    assert!(
        live.caps.windows(2).all(|w| w[0] == w[1]),
        "the caps changed across the switch: {:?}",
        live.caps
    );
}

/// The same without `switch-latency`: the stall of the switch itself makes the frames after it
/// late, so the property is what keeps them.
#[test]
fn without_switch_latency_a_slow_live_switch_drops_frames_as_late() {
    if let Some(why) = missing(&["x264enc", "openh264enc"]) {
        return common::skip(why);
    }
    init();
    let live = live_switch(150, Some(0), "video/x-h264");
    assert!(live.run.error().is_none(), "{:?}", live.run.error());
    assert!(live.rendered < FRAMES as usize, "no frame dropped");
    assert!(live.qos > 0, "no QoS message");
}

#[test]
fn the_last_candidate_failing_mid_stream_is_an_error_naming_every_attempt() {
    let out = encode_with(
        "candidates=x264enc tune=low-latency",
        FRAMES,
        "ball",
        |bin| inject_failure(bin, "x264enc", 20, false),
    );
    let error = out.run.error().expect("an element error");
    assert!(
        error.contains(
            "no H.264 encoder could encode this stream; tried: x264enc: failed after 19 frames"
        ) && error.contains("simulated GPU loss"),
        "{error}"
    );
}

#[test]
fn bitrate_changes_while_playing_reach_the_encoder() {
    for (factory, scale) in [("x264enc", 1u64), ("openh264enc", 1000)] {
        init();
        let pipeline = gst::parse::launch(&format!(
            "videotestsrc is-live=true ! stromautoenc name=enc candidates={factory} bitrate=1000 \
             ! fakesink"
        ))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        let (result, _, _) = pipeline.state(gst::ClockTime::from_seconds(10));
        result.expect("plays");
        let bin = pipeline.by_name("enc").unwrap();
        let encoder = encoder_of(&bin, factory);
        let bitrate = |e: &gst::Element| e.property_value("bitrate").get::<u32>().unwrap() as u64;
        assert_eq!(bitrate(&encoder), 1000 * scale);
        bin.set_property("bitrate", 3000u32);
        assert_eq!(bitrate(&encoder), 3000 * scale);
        assert_eq!(bin.property::<u32>("bitrate"), 3000);
        pipeline.set_state(gst::State::Null).unwrap();
    }
}

#[test]
fn stream_settings_are_refused_while_playing() {
    init();
    let pipeline = gst::parse::launch(
        "videotestsrc is-live=true ! stromautoenc name=enc candidates=x264enc ! fakesink",
    )
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let bin = pipeline.by_name("enc").unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    pipeline.state(gst::ClockTime::from_seconds(10)).0.unwrap();
    bin.set_property_from_str("codec", "h265");
    bin.set_property("gop-size", 5i32);
    bin.set_property("candidates", "openh264enc");
    assert_eq!(bin.property_value("codec").serialize().unwrap(), "h264");
    assert_eq!(bin.property::<i32>("gop-size"), 60);
    assert_eq!(bin.property::<String>("candidates"), "x264enc");
    let bus = pipeline.bus().unwrap();
    let warnings: Vec<String> =
        std::iter::from_fn(|| bus.pop_filtered(&[gst::MessageType::Warning]))
            .map(|m| match m.view() {
                gst::MessageView::Warning(w) => w.error().to_string(),
                _ => unreachable!(),
            })
            .collect();
    pipeline.set_state(gst::State::Null).unwrap();
    for name in ["codec", "gop-size", "candidates"] {
        let refusal = format!("{name} can only be changed in the NULL or READY state");
        assert!(
            warnings.iter().any(|w| w.contains(&refusal)),
            "{warnings:?}"
        );
    }
}

#[test]
fn invalid_candidates_stop_the_stream_with_an_error_saying_so() {
    let out = encode("candidates=\"x264enc speed-preset=1\"", 5);
    let error = out.run.error().expect("an element error");
    assert!(
        error.contains(
            "invalid candidates: 'x264enc speed-preset=1' is not an element factory name"
        ),
        "{error}"
    );
}

#[test]
fn properties_have_the_documented_defaults() {
    init();
    let e = gst::ElementFactory::make("stromautoenc").build().unwrap();
    assert_eq!(e.property_value("codec").serialize().unwrap(), "h264");
    assert_eq!(e.property::<u32>("bitrate"), 4000);
    assert_eq!(e.property::<i32>("gop-size"), 60);
    assert_eq!(e.property_value("tune").serialize().unwrap(), "default");
    assert_eq!(e.property_value("preference").serialize().unwrap(), "auto");
    assert_eq!(e.property::<String>("candidates"), "");
    assert_eq!(e.property::<String>("active-encoder"), "");
    assert_eq!(e.property::<String>("convert-path"), "");
    assert_eq!(e.property::<u64>("max-held-time"), 2_000_000_000);
    assert_eq!(e.property::<u64>("max-held-bytes"), 256 * 1024 * 1024);
    assert_eq!(e.property::<u64>("hang-timeout"), 5_000_000_000);
    let factory = e.factory().unwrap();
    assert_eq!(
        factory.metadata(gst::ELEMENT_METADATA_KLASS),
        Some("Codec/Encoder/Video")
    );
}

#[test]
fn every_codec_reaches_mp4_and_mpeg_ts() {
    for (codec, factory, mux, demux) in [
        ("h264", "x264enc", "mp4mux", "qtdemux"),
        ("h264", "x264enc", "mpegtsmux", "tsdemux"),
        ("h265", "x265enc", "mp4mux", "qtdemux"),
        ("h265", "x265enc", "mpegtsmux", "tsdemux"),
        ("av1", "av1enc", "mp4mux", "qtdemux"),
    ] {
        if !present(factory) {
            common::skip(format_args!(
                "{factory} not installed: {codec} into {mux} not checked"
            ));
            continue;
        }
        let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("autoenc-{codec}-{mux}-{}", std::process::id()));
        let (_, run) = common::run_launch(&format!(
            "videotestsrc num-buffers={FRAMES} ! video/x-raw,width=320,height=240,framerate=30/1 \
             ! stromautoenc codec={codec} tune=low-latency ! {mux} ! filesink location={}",
            file.display()
        ));
        assert!(run.error().is_none(), "{codec} in {mux}: {:?}", run.error());
        let (parser, decoder) = match codec {
            "h264" => ("h264parse", "openh264dec"),
            "h265" => ("h265parse", "libde265dec"),
            _ => ("av1parse", "av1dec"),
        };
        let decoded = count_frames(&format!(
            "filesrc location={} ! {demux} ! {parser} ! {decoder} ! fakesink name=out",
            file.display()
        ));
        assert_eq!(decoded, FRAMES as usize, "{codec} through {mux}");
        let _ = std::fs::remove_file(&file);
    }
}

#[test]
fn an_encoder_failing_to_drain_at_eos_hands_its_frames_on() {
    // x264enc's defaults hold frames until EOS drains them: they go to the next encoder.
    let out = encode_with("candidates=x264enc,openh264enc", FRAMES, "ball", |bin| {
        on_first(bin, "x264enc", fail_on_eos)
    });
    assert_switched(&out, "x264enc", "openh264enc");
}

#[test]
fn gl_memory_input_reaches_a_system_memory_encoder() {
    let out = encode_from(
        &format!("videotestsrc num-buffers={FRAMES} ! video/x-raw,width=320,height=240 ! glupload"),
        "candidates=x264enc",
        |_| {},
    );
    out.assert_clean();
    assert_eq!(field(out.message(), "convert-path"), "software");
    assert_eq!(decode("h264", &out.samples), FRAMES as usize);
}

#[test]
fn an_encoder_that_takes_gl_memory_gets_gl_frames() {
    // What nvh264enc gets when interop works; here a test-only GL-memory-only encoder, on Mesa.
    let out = encode(&format!("candidates={GL_ENCODER}"), FRAMES);
    out.assert_clean();
    let m = out.message();
    assert_eq!(field(m, "convert-path"), "gl");
    assert!(m.get::<bool>("hardware").unwrap());
    assert_eq!(decode("h264", &out.samples), FRAMES as usize);
}

/// Ported from gst-plugins-ugly's `tests/check/elements/x264enc.c` (1.22), run against the bin
/// with x264enc inside: downstream asks for a profile in `avc`; one frame in, EOS, one buffer
/// out, under caps with that profile and an avcC whose profile byte matches, holding
/// length-prefixed NAL units. The check that only input formats compatible with the profile are
/// offered does not apply: the bin takes every raw format and converts.
#[test]
fn x264enc_check_suite_profiles() {
    if let Some(missing) = missing(&["x264enc"]) {
        return common::skip(missing);
    }
    let x264_formats = gst::ElementFactory::find("x264enc")
        .unwrap()
        .static_pad_templates()
        .into_iter()
        .find(|t| t.direction() == gst::PadDirection::Sink)
        .unwrap()
        .caps();
    let cases: [(&str, u8, &[&str]); 6] = [
        ("constrained-baseline", 0x42, &["I420", "YV12", "NV12"]),
        ("main", 0x4d, &["I420", "YV12", "NV12"]),
        ("high", 0x64, &["I420", "YV12", "NV12"]),
        ("high-10", 0x6e, &["I420_10LE"]),
        ("high-4:2:2", 0x7a, &["Y42B", "I422_10LE"]),
        ("high-4:4:4", 0xf4, &["Y444", "Y444_10LE"]),
    ];
    for (profile, profile_id, formats) in cases {
        for format in formats {
            let input: gst::Caps =
                format!("video/x-raw, format={format}, width=384, height=288, framerate=25/1")
                    .parse()
                    .unwrap();
            if !input.can_intersect(&x264_formats) {
                common::skip(format_args!("x264enc here does not take {format}"));
                continue;
            }
            // The C test gives its sink pad these caps as template; a capsfilter does here.
            let mut h = gst_check::Harness::new_parse(&format!(
                "stromautoenc candidates=x264enc ! capsfilter caps=\"video/x-h264, width=384, \
                 height=288, framerate=25/1, profile={profile}, stream-format=avc\""
            ));
            h.set_src_caps(input.clone());
            not_live(&h);
            h.play();
            let info = gst_video::VideoInfo::from_caps(&input).unwrap();
            let mut frame = gst::Buffer::with_size(info.size()).unwrap();
            frame.get_mut().unwrap().set_pts(gst::ClockTime::ZERO);
            assert_eq!(
                h.push(frame),
                Ok(gst::FlowSuccess::Ok),
                "{profile} {format}"
            );
            assert!(h.push_event(gst::event::Eos::new()));
            assert_eq!(h.buffers_in_queue(), 1, "{profile} {format}");
            let caps = h.sinkpad().unwrap().current_caps().unwrap();
            let s = caps.structure(0).unwrap();
            assert_eq!(s.get::<&str>("stream-format").unwrap(), "avc");
            assert_eq!(s.get::<&str>("profile").unwrap(), profile, "{format}");
            let avcc = s.get::<gst::Buffer>("codec_data").unwrap();
            let avcc = avcc.map_readable().unwrap();
            assert_eq!(avcc[0], 1);
            assert_eq!(avcc[1], profile_id, "{profile} {format}: avcC profile");
            let length_size = usize::from(avcc[4] & 0x03) + 1;
            let out = h.pull().unwrap();
            let data = out.map_readable().unwrap();
            let mut pos = 0;
            while pos < data.len() {
                assert!(
                    data.len() - pos >= length_size,
                    "{profile} {format}: truncated"
                );
                let size = data[pos..pos + length_size]
                    .iter()
                    .fold(0usize, |n, b| (n << 8) | usize::from(*b));
                assert!(size > 0 && pos + length_size + size <= data.len());
                pos += length_size + size;
            }
            assert_eq!(pos, data.len());
        }
    }
}

/// The `profile` and size of what came out.
fn output_profile_and_size(out: &Encoded) -> (String, i32, i32) {
    let caps = out.samples[0].caps().expect("caps on the first sample");
    let s = caps.structure(0).unwrap();
    (
        s.get::<String>("profile").unwrap_or_default(),
        s.get::<i32>("width").unwrap(),
        s.get::<i32>("height").unwrap(),
    )
}

#[test]
fn packed_and_rgb_input_gives_8bit_420_profiles() {
    let cases = [
        ("h264", "x264enc", &["high", "main"][..]),
        ("h265", "x265enc", &["main"][..]),
        ("av1", "av1enc", &["main"][..]),
    ];
    for (codec, factory, profiles) in cases {
        if !present(factory) {
            common::skip(format_args!("{factory} not installed: {codec} not checked"));
            continue;
        }
        let formats: &[&str] = if codec == "av1" {
            &["YUY2"]
        } else {
            &["YUY2", "UYVY", "BGRx"]
        };
        for format in formats {
            let out = encode_from(
                &format!(
                    "videotestsrc num-buffers=3 ! video/x-raw,format={format},width=320,\
                     height=240,framerate=30/1"
                ),
                &format!("codec={codec} candidates={factory} tune=low-latency"),
                |_| {},
            );
            out.assert_clean();
            let (profile, w, h) = output_profile_and_size(&out);
            assert!(
                profiles.contains(&profile.as_str()),
                "{format} -> {codec}: {profile}"
            );
            assert_eq!((w, h), (320, 240));
            assert_eq!(out.frames().len(), 3, "{format} -> {codec}");
        }
    }
}

#[test]
fn downstream_asking_for_422_still_gets_it() {
    if let Some(missing) = missing(&["x264enc"]) {
        return common::skip(missing);
    }
    let out = encode_from(
        "videotestsrc num-buffers=3 ! video/x-raw,format=YUY2,width=320,height=240,framerate=30/1",
        "candidates=x264enc tune=low-latency ! video/x-h264,profile=high-4:2:2",
        |_| {},
    );
    out.assert_clean();
    assert_eq!(output_profile_and_size(&out).0, "high-4:2:2");
}

#[test]
fn odd_sizes_keep_their_exact_size() {
    if let Some(missing) = missing(&["x264enc"]) {
        return common::skip(missing);
    }
    for (w, h) in [(853, 480), (1279, 720), (1, 1), (3, 3), (15, 15), (4097, 1)] {
        let out = encode_from(
            &format!("videotestsrc num-buffers=2 ! video/x-raw,width={w},height={h}"),
            "tune=low-latency",
            |_| {},
        );
        out.assert_clean();
        assert_eq!(field(out.message(), "encoder"), "x264enc", "{w}x{h}");
        assert_eq!(output_profile_and_size(&out), ("high-4:4:4".into(), w, h));
        assert_eq!(out.frames().len(), 2, "{w}x{h}");
    }
}

#[test]
fn an_encoder_that_would_change_an_odd_size_is_refused() {
    if let Some(missing) = missing(&["openh264enc"]) {
        return common::skip(missing);
    }
    let out = encode_from(
        "videotestsrc num-buffers=2 ! video/x-raw,width=853,height=480",
        "candidates=openh264enc",
        |_| {},
    );
    let error = out.run.error().expect("an element error, not 852 columns");
    assert!(
        error.contains("openh264enc: failed") && error.contains("853x480 (odd size)"),
        "{error}"
    );
    assert!(out.samples.is_empty());
}

#[test]
fn a_candidates_list_without_the_installed_encoder_says_so() {
    if let Some(missing) = missing(&["x264enc", "x265enc"]) {
        return common::skip(missing);
    }
    let out = encode("codec=h264 candidates=x265enc", 2);
    let error = out.run.error().expect("an element error");
    assert!(
        error.contains("not in candidates: x264enc") && !error.contains("Install one of"),
        "{error}"
    );
    let out = encode("candidates=\",,\"", 2);
    let error = out.run.error().expect("an element error");
    assert!(
        error.contains("invalid candidates: ',,' names no encoder"),
        "{error}"
    );
}

/// Makes the first `factory` inside `bin` get every frame without timestamps, as an encoder
/// whose output times say nothing: no output confirms a held frame (nor tells which it
/// dropped), and the frame the encoder gets is a copy, so that the bin is the only holder of the
/// original once the encoder has returned it.
fn strip_input_times(bin: &gst::Element, factory: &'static str) {
    on_first(bin, factory, |encoder| {
        encoder
            .static_pad("sink")
            .unwrap()
            .add_probe(gst::PadProbeType::BUFFER, |_, info| {
                if let Some(gst::PadProbeData::Buffer(buffer)) = info.data.as_mut() {
                    let buffer = buffer.make_mut();
                    buffer.set_pts(gst::ClockTime::NONE);
                    buffer.set_dts(gst::ClockTime::NONE);
                }
                gst::PadProbeReturn::Ok
            });
    });
}

#[test]
fn held_frames_do_not_starve_a_small_fixed_upstream_pool() {
    if let Some(missing) = missing(&["x264enc"]) {
        return common::skip(missing);
    }
    let pipeline = gst::parse::launch(
        "appsrc name=src format=time ! stromautoenc name=enc candidates=x264enc,openh264enc \
         tune=low-latency ! fakesink name=out sync=false",
    )
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    strip_input_times(&pipeline.by_name("enc").unwrap(), "x264enc");
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, 320, 240)
        .fps(gst::Fraction::new(30, 1))
        .build()
        .unwrap();
    let caps = info.to_caps().unwrap();
    let src = pipeline
        .by_name("src")
        .unwrap()
        .downcast::<gst_app::AppSrc>()
        .unwrap();
    src.set_caps(Some(&caps));
    let pool = gst::BufferPool::new();
    let mut config = pool.config();
    config.set_params(Some(&caps), info.size() as u32, 3, 3);
    pool.set_config(config).unwrap();
    pool.set_active(true).unwrap();
    let decoded = count_buffers(&pipeline);
    pipeline.set_state(gst::State::Playing).unwrap();
    let frames = 30u64;
    for n in 0..frames {
        // Waits for a free buffer; a starved pool never gives one back.
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut buffer = loop {
            match pool.acquire_buffer(Some(&gst::BufferPoolAcquireParams::with_flags(
                gst::BufferPoolAcquireFlags::DONTWAIT,
            ))) {
                Ok(buffer) => break buffer,
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
                Err(e) => panic!("the 3-buffer pool starved at frame {n}: {e:?}"),
            }
        };
        {
            let buffer = buffer.get_mut().unwrap();
            buffer.set_pts(gst::ClockTime::SECOND.mul_div_floor(n, 30));
            buffer.set_duration(gst::ClockTime::SECOND.mul_div_floor(1, 30));
        }
        src.push_buffer(buffer).unwrap();
    }
    src.end_of_stream().unwrap();
    let run = common::run_to_eos(&pipeline, Duration::from_secs(60));
    assert!(run.error().is_none(), "{:?}", run.error());
    assert_eq!(decoded.load(Ordering::SeqCst), frames as usize);
}

/// The first `factory` inside `bin` takes every frame after its `after`-th and returns nothing,
/// as a GPU encoder whose device stalled without an error.
fn go_quiet(bin: &gst::Element, factory: &'static str, after: usize) {
    on_first(bin, factory, move |encoder| {
        let seen = AtomicUsize::new(0);
        encoder
            .static_pad("sink")
            .unwrap()
            .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
                if seen.fetch_add(1, Ordering::SeqCst) >= after {
                    // Taken: the frame is gone into the encoder, nothing comes back.
                    info.flow_res = Ok(gst::FlowSuccess::Ok);
                    gst::PadProbeReturn::Handled
                } else {
                    gst::PadProbeReturn::Ok
                }
            });
    });
}

#[test]
fn a_hung_encoder_is_replaced_and_no_frame_is_lost() {
    if let Some(missing) = missing(&["x264enc", "openh264enc"]) {
        return common::skip(missing);
    }
    let out = encode_from(
        &format!(
            "videotestsrc is-live=true num-buffers={FRAMES} \
             ! video/x-raw,width=320,height=240,framerate=30/1"
        ),
        "candidates=x264enc,openh264enc tune=low-latency hang-timeout=300000000",
        |bin| go_quiet(bin, "x264enc", 10),
    );
    assert!(out.run.error().is_none(), "{:?}", out.run.error());
    assert_eq!(out.run.warnings.len(), 1, "{:?}", out.run.warnings);
    let warning = &out.run.warnings[0].message;
    assert!(
        warning.starts_with("x264enc failed after 10 frames: returned no output for ")
            && warning.contains("hang-timeout=0.3 s")
            && warning.contains("switched to openh264enc with a new keyframe ("),
        "{warning}"
    );
    let encoders: Vec<String> = out.messages().iter().map(|m| field(m, "encoder")).collect();
    assert_eq!(encoders, ["x264enc", "openh264enc"]);
    // Every frame once: a live source's running times start where the clock was.
    let times = out.running_times();
    let from_first: Vec<u64> = times.iter().map(|t| t - times[0]).collect();
    let expected: Vec<u64> = expected_times(FRAMES);
    assert_eq!(from_first.len(), expected.len());
    for (got, want) in from_first.iter().zip(&expected) {
        assert!(got.abs_diff(*want) <= 1, "{from_first:?}");
    }
    assert_eq!(decode_each_caps("h264", &out.samples), FRAMES as usize);
}

/// What decoding a file written through a switch gives: access units demuxed, frames decoded,
/// and the index of the first decoded frame whose presentation time does not grow (None when
/// they all do).
fn decode_file(
    file: &std::path::Path,
    demux: &str,
) -> Result<(usize, usize, Option<usize>), String> {
    let pipeline = gst::parse::launch(&format!(
        "filesrc location={} ! {demux} ! h264parse name=parse ! openh264dec ! fakesink name=out",
        file.display()
    ))
    .map_err(|e| e.to_string())?
    .downcast::<gst::Pipeline>()
    .unwrap();
    let times = Arc::new(Mutex::new(Vec::new()));
    let seen = times.clone();
    pipeline
        .by_name("out")
        .unwrap()
        .static_pad("sink")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(gst::PadProbeData::Buffer(b)) = &info.data {
                seen.lock().unwrap().push(b.pts());
            }
            gst::PadProbeReturn::Ok
        });
    let demuxed = Arc::new(AtomicUsize::new(0));
    let counter = demuxed.clone();
    pipeline
        .by_name("parse")
        .unwrap()
        .static_pad("sink")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            counter.fetch_add(1, Ordering::SeqCst);
            gst::PadProbeReturn::Ok
        });
    let run = common::run_to_eos(&pipeline, Duration::from_secs(60));
    if let Some(error) = run.error() {
        return Err(error);
    }
    let times = times.lock().unwrap();
    Ok((
        demuxed.load(Ordering::SeqCst),
        times.len(),
        times.windows(2).position(|w| w[0] >= w[1]).map(|i| i + 1),
    ))
}

/// Records the (PTS, DTS) of every buffer entering `element`'s sink pad.
/// (PTS, DTS) running times of the buffers a pad saw.
type Times = Arc<Mutex<Vec<(Option<u64>, Option<u64>)>>>;

fn record_times(element: &gst::Element) -> Times {
    let times = Arc::new(Mutex::new(Vec::new()));
    let seen = times.clone();
    let pad = element.sink_pads().into_iter().next().expect("a sink pad");
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        if let Some(gst::PadProbeData::Buffer(b)) = &info.data {
            let segment = pad
                .sticky_event::<gst::event::Segment>(0)
                .and_then(|e| e.segment().downcast_ref::<gst::ClockTime>().cloned());
            let rt = |t: Option<gst::ClockTime>| {
                segment
                    .as_ref()
                    .and_then(|s| s.to_running_time(t?))
                    .map(gst::ClockTime::nseconds)
            };
            seen.lock().unwrap().push((rt(b.pts()), rt(b.dts())));
        }
        gst::PadProbeReturn::Ok
    });
    times
}

/// Whether DTS never goes backwards and no PTS is before its DTS, in running time.
fn timestamps_monotonic(times: &[(Option<u64>, Option<u64>)]) -> Result<(), String> {
    let mut last_dts = None;
    for (i, &(pts, dts)) in times.iter().enumerate() {
        if let (Some(pts), Some(dts)) = (pts, dts)
            && pts < dts
        {
            return Err(format!("buffer {i}: PTS {pts} before DTS {dts}"));
        }
        if let Some(dts) = dts {
            if last_dts.is_some_and(|last| dts < last) {
                return Err(format!("buffer {i}: DTS {dts} after {last_dts:?}"));
            }
            last_dts = Some(dts);
        }
    }
    Ok(())
}

/// The stand-in hardware encoder (x264enc inside, with and without B-frames, failing on its
/// 30th frame) replaced by openh264enc or by x264enc with B-frames, straight into each container
/// that takes H.264; DTS and PTS checked at the muxer, the file demuxed and decoded frame by
/// frame. Prints the per-container table.
#[test]
fn a_switch_mid_stream_into_containers() {
    if let Some(missing) = missing(&["x264enc", "openh264enc"]) {
        return common::skip(missing);
    }
    const N: u32 = 90;
    let mut table = Vec::new();
    let mut failures = Vec::new();
    for (mux, demux) in [
        ("mp4mux", "qtdemux"),
        ("qtmux", "qtdemux"),
        ("matroskamux", "matroskademux"),
        ("mpegtsmux", "tsdemux"),
        ("flvmux", "flvdemux"),
    ] {
        for (bframes, next, next_bframes) in [
            (0u32, "openh264enc", 0u32),
            (2, "openh264enc", 0),
            (0, "x264enc", 2),
            (2, "x264enc", 2),
        ] {
            let case = format!(
                "{mux}: failing x264enc bframes={bframes} -> {next} bframes={next_bframes}"
            );
            let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
                "switch-{mux}-{bframes}-{next}-{}",
                std::process::id()
            ));
            let pipeline = common::launch(&format!(
                "videotestsrc num-buffers={N} ! video/x-raw,width=320,height=240,framerate=30/1 \
                 ! stromautoenc name=enc candidates={FAIL_AFTER},{next} ! {mux} name=mux \
                 ! filesink location={}",
                file.display()
            ));
            let enc = pipeline.by_name("enc").unwrap();
            on_first(&enc, FAIL_AFTER, move |encoder| {
                encoder.set_property("fail-after", 30u32);
                encoder.set_property("bframes", bframes);
            });
            // The replacement only, not the x264enc inside the stand-in.
            enc.clone()
                .downcast::<gst::Bin>()
                .unwrap()
                .connect_deep_element_added(move |enc, _, element| {
                    let in_enc = element
                        .parent()
                        .is_some_and(|p| &p == enc.upcast_ref::<gst::Object>());
                    if in_enc && element.factory().is_some_and(|f| f.name() == "x264enc") {
                        element.set_property("rc-lookahead", 0i32);
                        element.set_property("bframes", next_bframes);
                    }
                });
            let times = record_times(&pipeline.by_name("mux").unwrap());
            let run = common::run_to_eos(&pipeline, Duration::from_secs(60));
            let written = run.error().map_or(Ok(()), Err);
            let monotonic = timestamps_monotonic(&times.lock().unwrap());
            let decoded = decode_file(&file, demux);
            let _ = std::fs::remove_file(&file);
            let row = match (&written, &decoded) {
                (Ok(()), Ok((demuxed, frames, step_back))) => {
                    // Stock `x264enc bframes=2 ! flvmux` steps back at the start already (the
                    // first DTS is negative): only a step back later is the switch's.
                    let stock = mux == "flvmux" && bframes > 0 && step_back.is_some_and(|i| i < 3);
                    let in_order = step_back.is_none() || stock;
                    // Every access unit must be in the file; openh264dec (the one H.264 decoder on
                    // Debian 12) drops one or two frames at the parameter change, so the decoded
                    // count is reported, not asserted.
                    if *demuxed != N as usize || !in_order || monotonic.is_err() {
                        failures.push(case.clone());
                    }
                    format!(
                        "{case}: {demuxed} of {N} in the file, {frames} decoded by openh264dec, \
                         display order {}, timestamps at the muxer {}",
                        match step_back {
                            None => "kept".to_owned(),
                            Some(i) if stock =>
                                format!("steps back at frame {i} as stock flvmux does"),
                            Some(i) => format!("steps back at frame {i}"),
                        },
                        monotonic
                            .as_ref()
                            .map_or_else(|e| e.as_str(), |()| "monotonic")
                    )
                }
                _ => {
                    failures.push(case.clone());
                    format!("{case}: {written:?}, {decoded:?}")
                }
            };
            println!("{row}");
            table.push(row);
        }
    }
    assert!(failures.is_empty(), "{failures:#?}\n{table:#?}");
}

/// The same failing encoder into RTP (payloaded, depayloaded, decoded in the same pipeline) and
/// into splitmuxsink (its files read back by splitmuxsrc): every frame must come through.
#[test]
fn a_switch_mid_stream_into_rtp_and_splitmuxsink() {
    if let Some(missing) = missing(&["x264enc", "openh264enc"]) {
        return common::skip(missing);
    }
    const N: u32 = 90;
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("splitmux-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, tail) in [
        (
            "rtph264pay",
            "rtph264pay config-interval=-1 ! rtph264depay ! h264parse ! fakesink name=out"
                .to_owned(),
        ),
        (
            "splitmuxsink",
            format!(
                "h264parse ! splitmuxsink location={}/part%05d.mp4",
                dir.display()
            ),
        ),
    ] {
        let pipeline = common::launch(&format!(
            "videotestsrc num-buffers={N} ! video/x-raw,width=320,height=240,framerate=30/1 \
             ! stromautoenc name=enc candidates=x264enc,openh264enc tune=low-latency ! {tail}"
        ));
        on_first(&pipeline.by_name("enc").unwrap(), "x264enc", |encoder| {
            fail_on_buffer(encoder, 30, false)
        });
        let counted = (name == "rtph264pay").then(|| count_buffers(&pipeline));
        let run = common::run_to_eos(&pipeline, Duration::from_secs(60));
        let frames = match counted {
            Some(count) => run.error().map_or(Ok(count.load(Ordering::SeqCst)), Err),
            None => run.error().map_or_else(
                || {
                    let mut parts: Vec<_> = std::fs::read_dir(&dir)
                        .unwrap()
                        .map(|e| e.unwrap().path())
                        .collect();
                    parts.sort();
                    Ok(parts
                        .iter()
                        .map(|p| {
                            count_frames(&format!(
                                "filesrc location={} ! qtdemux ! fakesink name=out",
                                p.display()
                            ))
                        })
                        .sum())
                },
                Err,
            ),
        };
        println!("{name}: {frames:?} of {N}");
        assert_eq!(frames, Ok(N as usize), "{name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Demuxes `file`, parses and decodes it: (access units demuxed, frames decoded, the first
/// frame whose PTS steps back in display order).
fn decode_file_with(
    file: &std::path::Path,
    demux: &str,
    parse: &str,
    decoder: &str,
) -> Result<(usize, usize, Option<usize>), String> {
    let pipeline = gst::parse::launch(&format!(
        "filesrc location={} ! {demux} ! {parse} name=parse ! {decoder} ! fakesink name=out",
        file.display()
    ))
    .map_err(|e| e.to_string())?
    .downcast::<gst::Pipeline>()
    .unwrap();
    let times = Arc::new(Mutex::new(Vec::new()));
    let seen = times.clone();
    common::by_name(&pipeline, "out")
        .static_pad("sink")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(b) = info.buffer() {
                seen.lock().unwrap().push(b.pts());
            }
            gst::PadProbeReturn::Ok
        });
    let demuxed = Arc::new(AtomicUsize::new(0));
    let counter = demuxed.clone();
    common::by_name(&pipeline, "parse")
        .static_pad("sink")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            counter.fetch_add(1, Ordering::SeqCst);
            gst::PadProbeReturn::Ok
        });
    let run = common::run_to_eos(&pipeline, Duration::from_secs(60));
    if let Some(error) = run.error() {
        return Err(error);
    }
    let times = times.lock().unwrap();
    Ok((
        demuxed.load(Ordering::SeqCst),
        times.len(),
        times.windows(2).position(|w| w[0] >= w[1]).map(|i| i + 1),
    ))
}

/// H.265 (x265enc, B-frames by default) and AV1 (av1enc) failing mid-stream, the same encoder
/// opened again (`candidates` lists it twice: the one encoder of the codec Debian 12 has), into
/// each container that takes the codec here: every access unit in the file, decoded in display
/// order, DTS and PTS monotonic at the muxer; RTP depayloaded and counted. Prints the table.
#[test]
fn h265_and_av1_switch_mid_stream_into_containers() {
    init();
    let mut cases: Vec<(&str, &str, u32, u32, &str, &str, &str)> = Vec::new();
    if let Some(why) = missing(&["x265enc", "libde265dec"]) {
        common::skip(format_args!("{why}: H.265 in containers not checked"));
    } else {
        for (mux, demux) in [
            ("mp4mux", "qtdemux"),
            ("matroskamux", "matroskademux"),
            ("mpegtsmux", "tsdemux"),
            ("rtph265pay", ""),
        ] {
            cases.push(("h265", "x265enc", 90, 60, mux, demux, "libde265dec"));
        }
    }
    // AV1: av1enc (libaom) where installed; mpegtsmux and RTP take no AV1 on GStreamer 1.22.
    if let Some(why) = missing(&["av1enc", "av1dec"]) {
        common::skip(format_args!("{why}: AV1 in containers not checked"));
    } else {
        for (mux, demux) in [("mp4mux", "qtdemux"), ("matroskamux", "matroskademux")] {
            cases.push(("av1", "av1enc", 20, 8, mux, demux, "av1dec"));
        }
    }
    let mut failures = Vec::new();
    for (codec, factory, n, at, mux, demux, decoder) in cases {
        let case =
            format!("{codec} {factory} failing at frame {at} of {n} -> {factory} into {mux}");
        let parse = format!("{codec}parse");
        let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("switch-{codec}-{mux}-{}", std::process::id()));
        let tail = if mux == "rtph265pay" {
            "rtph265pay config-interval=-1 name=mux ! rtph265depay ! h265parse \
             ! fakesink name=out"
                .to_owned()
        } else {
            format!("{mux} name=mux ! filesink location={}", file.display())
        };
        let pipeline = common::launch(&format!(
            "videotestsrc num-buffers={n} ! video/x-raw,width=320,height=240,framerate=30/1 \
             ! stromautoenc name=enc codec={codec} candidates={factory},{factory} ! {tail}"
        ));
        on_first(
            &common::by_name(&pipeline, "enc"),
            factory,
            move |encoder| fail_on_buffer(encoder, at as usize, false),
        );
        let counted = (mux == "rtph265pay").then(|| count_buffers(&pipeline));
        let times = record_times(&common::by_name(&pipeline, "mux"));
        let run = common::run_to_eos(&pipeline, Duration::from_secs(120));
        let monotonic = timestamps_monotonic(&times.lock().unwrap());
        let switched = run.warnings.len();
        let result = match (run.error(), counted) {
            (Some(error), _) => Err(error),
            (None, Some(count)) => {
                let c = count.load(Ordering::SeqCst);
                Ok((c, c, None))
            }
            (None, None) => decode_file_with(&file, demux, &parse, decoder),
        };
        let _ = std::fs::remove_file(&file);
        let row = match &result {
            Ok((demuxed, decoded, step_back)) => {
                // A switch after output had started (one warning), not an invisible one.
                if *demuxed != n as usize
                    || step_back.is_some()
                    || monotonic.is_err()
                    || switched != 1
                {
                    failures.push(case.clone());
                }
                format!(
                    "{case}: {switched} switch warning(s), {demuxed} of {n} access units, \
                     {decoded} decoded, display order {}, timestamps at the muxer {}",
                    step_back.map_or("kept".to_owned(), |i| format!("steps back at {i}")),
                    monotonic
                        .as_ref()
                        .map_or_else(|e| e.as_str(), |()| "monotonic")
                )
            }
            Err(error) => {
                failures.push(case.clone());
                format!("{case}: {error}")
            }
        };
        println!("{row}");
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
