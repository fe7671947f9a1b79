// SPDX-License-Identifier: MPL-2.0
//! One element of a chain, by what it does there: the typed steps a plan is made of. The same
//! list builds the chain (`autoconvert/chain.rs` makes an element per step) and describes it in
//! messages, and says what it costs per frame ([`Step::copies`]).

/// One element of a chain, by what it does there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Nothing to convert: a bare `identity`.
    Identity,
    /// `bayer2rgb`: Bayer input demosaiced first.
    Demosaic,
    /// `rgb2bayer`: Bayer output made last.
    Mosaic,
    /// `gldownload`: GL memory to system memory.
    Download,
    /// `glupload`: system memory to GL memory.
    Upload,
    /// `videoconvert`.
    VideoConvert,
    /// `videoconvertscale`.
    VideoConvertScale,
    /// The internal fast converter (`crate::convert`).
    FastConvert,
    /// `glcolorconvert`.
    GlConvert,
    /// `glcolorscale`.
    GlScale,
    /// A capsfilter to RGBA in GL memory: the hop between two different YUV formats.
    RgbaHop,
    /// A capsfilter after the last `glcolorconvert`: with `bt601`, saying what its YUV is
    /// (BT.601, where the running glcolorconvert writes YUV from RGB only so) and, with `size`,
    /// pinning the size videoconvertscale would choose.
    OutputPin { size: bool, bt601: bool },
}

impl Step {
    /// The element factory that makes this step.
    pub fn factory(self) -> &'static str {
        match self {
            Step::Identity => "identity",
            Step::Demosaic => "bayer2rgb",
            Step::Mosaic => "rgb2bayer",
            Step::Download => "gldownload",
            Step::Upload => "glupload",
            Step::VideoConvert => "videoconvert",
            Step::VideoConvertScale => "videoconvertscale",
            Step::FastConvert => "stromfastconvert",
            Step::GlConvert => "glcolorconvert",
            Step::GlScale => "glcolorscale",
            Step::RgbaHop | Step::OutputPin { .. } => "capsfilter",
        }
    }

    /// How the step reads in `chain` of the bus message: the factory, or a capsfilter's caps.
    pub fn describe(self) -> &'static str {
        match self {
            Step::RgbaHop => "video/x-raw(memory:GLMemory),format=RGBA",
            Step::OutputPin {
                size: true,
                bt601: true,
            } => "video/x-raw,<size as videoconvertscale>,<YUV as bt601>",
            Step::OutputPin {
                size: true,
                bt601: false,
            } => "video/x-raw,<size as videoconvertscale>",
            Step::OutputPin { size: false, .. } => "video/x-raw,<YUV as bt601>",
            other => other.factory(),
        }
    }

    /// What the step costs per frame, at most: an upload or a download copies the frame once,
    /// a conversion, scaling or (de)mosaicing pass writes it once; `identity` and capsfilters
    /// only pass it on. A converter whose caps match on both sides passes the frame through at
    /// run time and costs nothing; the plan counts what its steps may do.
    pub fn copies(self) -> u32 {
        match self {
            Step::Identity | Step::RgbaHop | Step::OutputPin { .. } => 0,
            Step::Demosaic
            | Step::Mosaic
            | Step::Download
            | Step::Upload
            | Step::VideoConvert
            | Step::VideoConvertScale
            | Step::FastConvert
            | Step::GlConvert
            | Step::GlScale => 1,
        }
    }
}

/// The copies per frame of a chain of `steps` ([`Step::copies`] summed).
pub(crate) fn copies_per_frame(steps: &[Step]) -> u32 {
    steps.iter().map(|s| s.copies()).sum()
}

/// `glupload ! glcolorconvert ! ...` for messages and logs.
pub(crate) fn describe(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| s.describe())
        .collect::<Vec<_>>()
        .join(" ! ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_and_passes_cost_a_copy_each_and_filters_none() {
        // system → GL upload 1, GL → system download 1, a conversion pass 1.
        assert_eq!(copies_per_frame(&[Step::Upload]), 1);
        assert_eq!(copies_per_frame(&[Step::Download]), 1);
        assert_eq!(copies_per_frame(&[Step::VideoConvert]), 1);
        let hop = [
            Step::Upload,
            Step::GlConvert,
            Step::RgbaHop,
            Step::GlConvert,
            Step::OutputPin {
                size: false,
                bt601: true,
            },
            Step::Download,
        ];
        assert_eq!(copies_per_frame(&hop), 4);
        assert_eq!(copies_per_frame(&[Step::Identity]), 0);
        assert_eq!(
            describe(&hop[..2]),
            "glupload ! glcolorconvert",
            "steps read as their factories"
        );
    }
}
