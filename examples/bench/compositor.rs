// SPDX-License-Identifier: MPL-2.0
//! `stromcompositor` against `compositor` and `glvideomixer`: four 1080p inputs mixed into one
//! 1080p output, in system memory as an encoder such as `x264enc` takes it, each input repeated
//! from memory by `imagefreeze` so the sources cost next to nothing. Contenders are interleaved
//! round-robin within each repetition; wall-clock rate and CPU per output frame are reported
//! side by side. The GL contenders run on whatever GL this machine has (Mesa llvmpipe without a
//! GPU), so they get fewer frames per run.

use serde_json::json;

use crate::pipeline;
use crate::stats::Summary;

/// Where the four inputs go: `(xpos, ypos, width, height, alpha)`; width/height -1 = unscaled.
type Placement = (i32, i32, i32, i32, f64);

#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub id: &'static str,
    pub label: &'static str,
    pads: [Placement; 4],
    /// Output frames per run for the CPU contenders; GL ones get a sixth.
    frames: u32,
}

pub const LAYOUTS: [Layout; 2] = [
    Layout {
        id: "4x1080p-mosaic",
        label: "4 × 1080p I420 → 1080p I420, 2×2 mosaic (each scaled to 960×540)",
        pads: [
            (0, 0, 960, 540, 1.0),
            (960, 0, 960, 540, 1.0),
            (0, 540, 960, 540, 1.0),
            (960, 540, 960, 540, 1.0),
        ],
        frames: 60,
    },
    Layout {
        id: "4x1080p-overlay",
        label: "4 × 1080p I420 → 1080p I420, stacked unscaled, upper three at alpha 0.5",
        pads: [
            (0, 0, -1, -1, 1.0),
            (0, 0, -1, -1, 0.5),
            (0, 0, -1, -1, 0.5),
            (0, 0, -1, -1, 0.5),
        ],
        frames: 60,
    },
];

/// A mixer as it appears in a pipeline description.
#[derive(Debug, Clone)]
pub struct Mixer {
    pub id: &'static str,
    pub launch: &'static str,
    /// Mixes through GL: fewer frames per run.
    pub gl: bool,
}

pub const STOCK: &str = "compositor";

pub const MIXERS: [Mixer; 5] = [
    Mixer {
        id: "compositor",
        launch: "compositor",
        gl: false,
    },
    Mixer {
        id: "stromcompositor",
        launch: "stromcompositor",
        gl: false,
    },
    Mixer {
        id: "stromcompositor mode=software",
        launch: "stromcompositor mode=software",
        gl: false,
    },
    Mixer {
        id: "stromcompositor mode=gl",
        launch: "stromcompositor mode=gl",
        gl: true,
    },
    Mixer {
        id: "glvideomixer",
        launch: "glvideomixer",
        gl: true,
    },
];

/// `1.03×`, or `0.015×` where two decimals would read 0.
fn ratio(r: f64) -> String {
    if r < 0.095 {
        format!("{r:.3}×")
    } else {
        format!("{r:.2}×")
    }
}

fn frames_for(layout: &Layout, mixer: &Mixer, quick: bool) -> u32 {
    match (quick, mixer.gl) {
        (true, _) => 4,
        (false, true) => (layout.frames / 6).max(4),
        (false, false) => layout.frames,
    }
}

/// The pipeline: four frozen 1080p frames into `mixer`, its output to a fakesink.
pub fn description(layout: &Layout, mixer: &Mixer, frames: u32) -> String {
    let mut pads = String::new();
    for (i, (x, y, w, h, alpha)) in layout.pads.iter().enumerate() {
        pads.push_str(&format!(
            " sink_{i}::xpos={x} sink_{i}::ypos={y} sink_{i}::width={w} sink_{i}::height={h} \
             sink_{i}::alpha={alpha}"
        ));
    }
    let mut description = format!(
        "{} name=m background=black{pads} ! video/x-raw,format=I420,width=1920,height=1080 ! \
         fakesink name=sink sync=false enable-last-sample=false",
        mixer.launch
    );
    for i in 0..layout.pads.len() {
        description.push_str(&format!(
            " videotestsrc num-buffers=1 pattern={i} ! \
             video/x-raw,format=I420,width=1920,height=1080,framerate=30/1 ! \
             imagefreeze num-buffers={frames} ! m.sink_{i}"
        ));
    }
    description
}

pub struct MixerResult {
    pub mixer: Mixer,
    pub frames: u32,
    pub fps: Result<Summary, String>,
    pub cpu_ms: Option<Summary>,
    /// What `stromcompositor` chose (`strom-compositor` message): path and reason.
    pub decision: Option<(String, String)>,
}

pub struct LayoutResult {
    pub layout: Layout,
    pub results: Vec<MixerResult>,
}

impl LayoutResult {
    fn find(&self, id: &str) -> Option<&MixerResult> {
        self.results.iter().find(|r| r.mixer.id == id)
    }

    /// `ours ÷ compositor` of the fps medians and of the CPU-per-frame medians.
    pub fn ratios(&self, id: &str) -> Option<(f64, Option<f64>)> {
        let ours = self.find(id)?;
        let stock = self.find(STOCK)?;
        let fps = ours.fps.as_ref().ok()?.median / stock.fps.as_ref().ok()?.median;
        let cpu = ours
            .cpu_ms
            .zip(stock.cpu_ms)
            .map(|(a, b)| a.median / b.median);
        Some((fps, cpu))
    }
}

/// Every mixer on every layout, `reps` times, interleaved.
pub fn measure(reps: usize, quick: bool) -> Result<Vec<LayoutResult>, String> {
    if gst::ElementFactory::find("stromcompositor").is_none() {
        return Err("stromcompositor not available".into());
    }
    let mut out = Vec::new();
    for layout in LAYOUTS {
        let mut fps: Vec<Result<Vec<f64>, String>> = vec![Ok(Vec::new()); MIXERS.len()];
        let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); MIXERS.len()];
        let mut decisions: Vec<Option<(String, String)>> = vec![None; MIXERS.len()];
        for _ in 0..reps {
            for (i, mixer) in MIXERS.iter().enumerate() {
                let Ok(list) = &mut fps[i] else { continue };
                let frames = frames_for(&layout, mixer, quick);
                match pipeline::measure_description(&description(&layout, mixer, frames), frames) {
                    Ok((m, messages)) => {
                        list.push(m.fps);
                        cpu[i].extend(m.cpu_ms_per_frame);
                        decisions[i] = messages
                            .iter()
                            .find(|s| s.name() == "strom-compositor")
                            .map(|s| {
                                let field = |f: &str| s.get::<String>(f).unwrap_or_default();
                                (field("path"), field("reason"))
                            })
                            .or(decisions[i].take());
                    }
                    Err(err) => fps[i] = Err(err),
                }
            }
            crate::progress(&format!("compositor {}", layout.id));
        }
        let results = MIXERS
            .iter()
            .zip(fps)
            .zip(cpu)
            .zip(decisions)
            .map(|(((mixer, fps), cpu), decision)| MixerResult {
                mixer: mixer.clone(),
                frames: frames_for(&layout, mixer, quick),
                fps: fps.and_then(|l| Summary::of(&l).ok_or_else(|| "no samples".into())),
                cpu_ms: Summary::of(&cpu),
                decision,
            })
            .collect();
        out.push(LayoutResult { layout, results });
    }
    Ok(out)
}

impl LayoutResult {
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "layout": self.layout.id,
            "label": self.layout.label,
            "results": self.results.iter().map(|r| json!({
                "mixer": r.mixer.id,
                "frames": r.frames,
                "fps": r.fps.as_ref().ok().map(|s| s.to_json()),
                "cpu-ms-per-frame": r.cpu_ms.map(Summary::to_json),
                "fails": r.fps.as_ref().err(),
                "path": r.decision.as_ref().map(|d| d.0.clone()),
                "reason": r.decision.as_ref().map(|d| d.1.clone()),
                "fps-ratio-vs-compositor": self.ratios(r.mixer.id).map(|r| r.0),
                "cpu-ratio-vs-compositor": self.ratios(r.mixer.id).and_then(|r| r.1),
            })).collect::<Vec<_>>(),
        })
    }

    /// One Markdown table.
    pub fn markdown(&self, reps: usize) -> String {
        let mut md = format!(
            "\n### {}\n\nOutput frames per second and CPU per output frame (ms, all threads of the \
             process, first buffer to EOS), median (min–max) of {reps} runs, interleaved; \
             ratios against `compositor` in the same run.\n\n\
             | mixer | path | frames per run | fps | CPU ms / frame | fps ÷ compositor | CPU ÷ compositor |\n\
             |---|---|---:|---:|---:|---:|---:|\n",
            self.layout.label
        );
        for r in &self.results {
            let (fps_ratio, cpu_ratio) = self.ratios(r.mixer.id).unwrap_or((f64::NAN, None));
            let fps = match &r.fps {
                Ok(s) => s.cell(1),
                Err(_) => "fails".into(),
            };
            md.push_str(&format!(
                "| `{}` | {} | {} | {fps} | {} | {} | {} |\n",
                r.mixer.id,
                r.decision.as_ref().map_or("–", |d| d.0.as_str()),
                r.frames,
                r.cpu_ms.map_or("–".into(), |s| s.cell(2)),
                if fps_ratio.is_nan() {
                    "–".into()
                } else {
                    ratio(fps_ratio)
                },
                cpu_ratio.map_or("–".into(), ratio),
            ));
        }
        for r in &self.results {
            if let Err(why) = &r.fps {
                md.push_str(&format!("\n- `{}` fails: {why}\n", r.mixer.id));
            }
        }
        if let Some((_, reason)) = self
            .find("stromcompositor")
            .and_then(|r| r.decision.as_ref())
        {
            md.push_str(&format!("\n`stromcompositor` (auto) said: {reason}.\n"));
        }
        md
    }
}
