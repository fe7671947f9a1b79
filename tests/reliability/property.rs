// SPDX-License-Identifier: MPL-2.0
//! Property-based: the plan agrees with what a real pipeline negotiates.

use proptest::prelude::*;

use crate::common::{HANG, by_name, init, launch, set_state_guarded, wait_for_eos};
use crate::soak;
use gststrom::autoconvert::Mode;
use gststrom::autoconvert::plan::{self, Downstream, Formats, Input, Memory};

use gst::prelude::*;

const FORMAT_POOL: [&str; 4] = ["I420", "NV12", "RGBA", "BGRx"];

/// What downstream accepts: formats per memory (empty = any format), or None = not accepted.
#[derive(Debug, Clone)]
struct ConsumerCaps {
    system: Option<Vec<&'static str>>,
    gl: Option<Vec<&'static str>>,
    cuda: bool,
}

#[derive(Debug, Clone)]
struct Case {
    mode: Mode,
    input_gl: bool,
    input_format: &'static str,
    /// None: a bare fakesink (ANY caps).
    consumer: Option<ConsumerCaps>,
}

fn formats_strategy() -> impl Strategy<Value = Vec<&'static str>> {
    prop::sample::subsequence(FORMAT_POOL.to_vec(), 0..=2)
}

fn case_strategy() -> impl Strategy<Value = Case> {
    let consumer = (
        prop::option::of(formats_strategy()),
        prop::option::of(formats_strategy()),
        prop::bool::weighted(0.15),
    )
        .prop_map(|(system, gl, cuda)| ConsumerCaps {
            cuda: cuda || (system.is_none() && gl.is_none()),
            system,
            gl,
        });
    (
        prop::sample::select(vec![Mode::Auto, Mode::Gl, Mode::Software]),
        prop::bool::weighted(0.25),
        prop::sample::select(FORMAT_POOL.to_vec()),
        prop::option::weighted(0.9, consumer),
    )
        .prop_map(|(mode, input_gl, input_format, consumer)| Case {
            mode,
            input_gl,
            input_format,
            consumer,
        })
}

fn caps_structure(features: &str, formats: &[&str]) -> String {
    match formats {
        [] => format!("video/x-raw{features}"),
        [one] => format!("video/x-raw{features},format={one}"),
        many => format!("video/x-raw{features},format={{ {} }}", many.join(", ")),
    }
}

impl Case {
    fn mode_nick(&self) -> &'static str {
        match self.mode {
            Mode::Auto => "auto",
            Mode::Gl => "gl",
            Mode::Software => "software",
        }
    }

    fn pipeline_description(&self) -> String {
        let raw = format!(
            "video/x-raw,format={},width=64,height=48",
            self.input_format
        );
        let source = if self.input_gl {
            format!(
                "videotestsrc num-buffers=2 ! {raw} ! glupload ! glcolorconvert ! \
                 video/x-raw(memory:GLMemory),format={}",
                self.input_format
            )
        } else {
            format!("videotestsrc num-buffers=2 ! {raw}")
        };
        let consumer = match self.consumer_caps() {
            None => String::new(),
            Some(caps) => format!("capsfilter caps=\"{caps}\" ! "),
        };
        format!(
            "{source} ! stromautoconvert name=conv mode={} ! {consumer}fakesink name=sink",
            self.mode_nick()
        )
    }

    fn input(&self) -> Input {
        Input {
            memory: if self.input_gl {
                Memory::Gl
            } else {
                Memory::System
            },
            ..Input::raw(
                self.input_format,
                matches!(self.input_format, "I420" | "NV12"),
            )
        }
    }

    /// The format the bin's fast converter would make, by the bin's own rule (whether
    /// `videoconvert` would output caps the fast converter makes); the property checks that
    /// the plan built on it is what the pipeline negotiates.
    fn direct_target(&self) -> Option<String> {
        if self.input_gl {
            return None;
        }
        let input: gst::Caps = format!(
            "video/x-raw,format={},width=64,height=48,framerate=30/1",
            self.input_format
        )
        .parse()
        .unwrap();
        let downstream: gst::Caps = match self.consumer_caps() {
            None => gst::Caps::new_any(),
            Some(caps) => caps.parse().unwrap(),
        };
        gststrom::autoconvert::direct_target(&input, &downstream)
    }

    /// The consumer's caps, as the capsfilter holds them.
    fn consumer_caps(&self) -> Option<String> {
        let c = self.consumer.as_ref()?;
        let mut structures = Vec::new();
        if let Some(f) = &c.gl {
            structures.push(caps_structure("(memory:GLMemory)", f));
        }
        if let Some(f) = &c.system {
            structures.push(caps_structure("", f));
        }
        if c.cuda {
            structures.push(caps_structure("(memory:CUDAMemory)", &["NV12"]));
        }
        Some(structures.join("; "))
    }

    fn downstream(&self) -> Downstream {
        let formats = |f: &Vec<&str>| {
            if f.is_empty() {
                Formats::Any
            } else {
                Formats::Only(f.iter().map(|s| s.to_string()).collect())
            }
        };
        match &self.consumer {
            None => Downstream {
                any: true,
                ..Default::default()
            },
            Some(c) => Downstream {
                system: c.system.as_ref().map(formats),
                gl: c.gl.as_ref().map(formats),
                any: false,
                other_features: if c.cuda {
                    vec!["memory:CUDAMemory".into()]
                } else {
                    vec![]
                },
                ..Default::default()
            },
        }
    }
}

fn property_cases() -> u32 {
    if soak() { 512 } else { 32 }
}

/// What the pipeline did: Err(error) or Ok((active-path, chain from the decision message)).
fn negotiate(case: &Case) -> Result<(String, String), String> {
    let pipeline = launch(&case.pipeline_description());
    set_state_guarded(&pipeline, gst::State::Playing);
    let log = wait_for_eos(&pipeline.bus().unwrap(), HANG);
    let chain = log
        .decisions()
        .last()
        .map(|s| s.get::<String>("chain").unwrap_or_default())
        .unwrap_or_default();
    let path = by_name(&pipeline, "conv").property::<String>("active-path");
    set_state_guarded(&pipeline, gst::State::Null);
    log.result().map(|()| (path, chain))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: property_cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn plan_agrees_with_real_negotiation(case in case_strategy()) {
        init();
        let mut request = plan::Request {
            mode: case.mode,
            input: case.input(),
            downstream: case.downstream(),
            direct_target: case.direct_target(),
            gl_failed: None,
            interop: None,
            consumer_cuda_device: None,
            passthrough: false,
            scale: false,
            software_settings: None,
            gst_version: gststrom::gstversion::running(),
        };
        if request.needs_interop() {
            let (report, _) = gststrom::gpu::interop::probe_cached(None, None);
            request.interop = Some(plan::InteropVerdict::from(&*report));
        }
        let planned = plan::plan(&request);
        let negotiated = negotiate(&case);
        let description = case.pipeline_description();
        match (&planned, &negotiated) {
            (Ok(p), Ok((path, chain))) => {
                prop_assert_eq!(path.as_str(), p.chain.path().as_str(), "{}", description);
                prop_assert_eq!(chain, &p.chain.describe(), "{}", description);
            }
            (Err(_), Err(_)) => {}
            _ => prop_assert!(
                false,
                "plan and pipeline disagree for {}:\nplan: {:?}\npipeline: {:?}",
                description, planned, negotiated
            ),
        }
    }
}
