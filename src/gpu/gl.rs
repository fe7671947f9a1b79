// SPDX-License-Identifier: MPL-2.0
//! A GL context made the way GStreamer's GL elements make theirs, so that the answer holds for the
//! pipeline: `GstGLDisplay` picks the window system and platform from `GST_GL_WINDOW` and
//! `GST_GL_PLATFORM`, exactly as `glupload` would.

use std::ffi::{CStr, c_char, c_void};

use gst_gl::prelude::ContextGLExt;
use gst_gl::prelude::*;

/// What the GL context reports about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GlInfo {
    pub(crate) vendor: String,
    pub(crate) renderer: String,
    pub(crate) version: String,
    /// The GStreamer display type, e.g. `egl-device`, `egl`, `x11`.
    pub(crate) display: String,
}

impl GlInfo {
    /// True when GL runs on a CPU rasteriser or a non-NVIDIA Mesa driver: CUDA cannot see it.
    pub(crate) fn is_mesa_or_software(&self) -> bool {
        is_mesa_or_software(&self.vendor, &self.renderer)
    }

    /// "Mesa llvmpipe", "Mesa", ...: how hints and statuses name a non-NVIDIA GL.
    pub(crate) fn short_name(&self) -> String {
        let renderer = self.renderer.to_ascii_lowercase();
        let mesa = self.vendor.to_ascii_lowercase().contains("mesa");
        match ["llvmpipe", "softpipe", "swrast", "lavapipe", "zink"]
            .into_iter()
            .find(|r| renderer.contains(r))
        {
            Some(r) if mesa => format!("Mesa {r}"),
            Some(r) => r.to_owned(),
            None if mesa => "Mesa".to_owned(),
            None => self.vendor.clone(),
        }
    }
}

/// What Mesa's CPU rasteriser reports through `egl-device` on Debian 12: the GL every development
/// and CI machine of this project has. For unit tests.
#[cfg(test)]
pub(crate) fn llvmpipe_for_tests() -> GlInfo {
    GlInfo {
        vendor: "Mesa/X.org".into(),
        renderer: "llvmpipe (LLVM 15.0.6, 256 bits)".into(),
        version: "4.5 (Core Profile) Mesa 22.3.6".into(),
        display: "egl-device".into(),
    }
}

pub(crate) fn is_mesa_or_software(vendor: &str, renderer: &str) -> bool {
    let vendor = vendor.to_ascii_lowercase();
    let renderer = renderer.to_ascii_lowercase();
    if vendor.contains("nvidia") || renderer.contains("nvidia") {
        return false;
    }
    vendor.contains("mesa")
        || ["mesa", "llvmpipe", "softpipe", "swrast", "software"]
            .iter()
            .any(|r| renderer.contains(r))
}

/// True when `renderer` rasterises on the CPU (Mesa's llvmpipe, softpipe and swrast, the
/// "Software Rasterizer" of other vendors): GL there is slower than code written for the CPU.
/// Unlike [`is_mesa_or_software`], Mesa drivers of real GPUs (radeonsi, iris) are not.
pub(crate) fn is_cpu_rasteriser(renderer: &str) -> bool {
    let renderer = renderer.to_ascii_lowercase();
    ["llvmpipe", "softpipe", "swrast", "software rasterizer"]
        .iter()
        .any(|r| renderer.contains(r))
}

/// The handful of GL entry points the probe needs, resolved through the GStreamer context.
pub(crate) struct GlFunctions {
    get_string: unsafe extern "C" fn(u32) -> *const c_char,
    gen_buffers: unsafe extern "C" fn(i32, *mut u32),
    bind_buffer: unsafe extern "C" fn(u32, u32),
    buffer_data: unsafe extern "C" fn(u32, isize, *const c_void, u32),
    delete_buffers: unsafe extern "C" fn(i32, *const u32),
}

const GL_VENDOR: u32 = 0x1F00;
const GL_RENDERER: u32 = 0x1F01;
const GL_VERSION: u32 = 0x1F02;
const GL_PIXEL_UNPACK_BUFFER: u32 = 0x88EC;
const GL_STREAM_DRAW: u32 = 0x88E0;

impl GlFunctions {
    fn resolve(context: &gst_gl::GLContext) -> Result<GlFunctions, String> {
        fn get<T: Copy>(context: &gst_gl::GLContext, name: &str) -> Result<T, String> {
            let address = context.proc_address(name);
            if address == 0 {
                return Err(format!("GL has no {name}"));
            }
            // SAFETY: `T` is the C signature of `name`, and the address is non-null.
            Ok(unsafe { std::mem::transmute_copy::<usize, T>(&address) })
        }
        Ok(GlFunctions {
            get_string: get(context, "glGetString")?,
            gen_buffers: get(context, "glGenBuffers")?,
            bind_buffer: get(context, "glBindBuffer")?,
            buffer_data: get(context, "glBufferData")?,
            delete_buffers: get(context, "glDeleteBuffers")?,
        })
    }

    fn string(&self, name: u32) -> String {
        // SAFETY: called in the GL thread with the context current; GL returns a static string.
        let ptr = unsafe { (self.get_string)(name) };
        if ptr.is_null() {
            return String::new();
        }
        // SAFETY: non-null GL strings are NUL-terminated.
        unsafe { CStr::from_ptr(ptr) }
            .to_string_lossy()
            .into_owned()
    }

    /// Creates a pixel-unpack buffer object of `size` bytes, the kind `GstGLMemoryPBO` uploads
    /// through, runs `f` with its name, and deletes it whatever `f` returns.
    pub(crate) fn with_pixel_buffer<R>(&self, size: usize, f: impl FnOnce(u32) -> R) -> R {
        let mut buffer: u32 = 0;
        // SAFETY: GL thread, context current; standard buffer object lifecycle.
        unsafe {
            (self.gen_buffers)(1, &mut buffer);
            (self.bind_buffer)(GL_PIXEL_UNPACK_BUFFER, buffer);
            (self.buffer_data)(
                GL_PIXEL_UNPACK_BUFFER,
                size as isize,
                std::ptr::null(),
                GL_STREAM_DRAW,
            );
            (self.bind_buffer)(GL_PIXEL_UNPACK_BUFFER, 0);
        }
        let result = f(buffer);
        // SAFETY: deletes the buffer created above.
        unsafe { (self.delete_buffers)(1, &buffer) };
        result
    }
}

/// The GL display `element`'s pipeline uses, found through GStreamer's context negotiation as GL
/// elements find theirs (already set on the element, a neighbour's answer to a context query, or the
/// pipeline's cache answering a NEED_CONTEXT message); when the pipeline has none, the process-wide
/// display, announced to the pipeline so that its GL elements use it too.
///
/// Sharing matters. GStreamer 1.22 gives each pipeline a `GstGLDisplay` of its own; on EGL they all
/// wrap the same `EGLDisplay`, and each calls `eglTerminate` on it when finalized, under the feet of
/// every other GL user in the process: heap corruption or a crash in libEGL when a pipeline (or a
/// second display made just to test GL) goes away while another runs.
/// Where the display of [`run_in_gl_thread`] comes from.
struct ChosenDisplay {
    display: gst_gl::GLDisplay,
    app_context: Option<gst_gl::GLContext>,
    /// The process-wide display: it outlives everything, so its EGL wrapper is marked too.
    process_wide: bool,
}

fn pipeline_display(element: &gst::Element) -> ChosenDisplay {
    let app_context = element
        .context("gst.gl.app_context")
        .and_then(|c| c.structure().get::<gst_gl::GLContext>("context").ok());
    if let Some(display) = display_known_to_pipeline(element) {
        let process_wide = PROCESS_DISPLAY.get() == Some(&display);
        return ChosenDisplay {
            display,
            app_context,
            process_wide,
        };
    }
    let display = process_display();
    let mut context = gst::Context::new(gst_gl::GL_DISPLAY_CONTEXT_TYPE, true);
    context
        .get_mut()
        .expect("a new context is writable")
        .set_gl_display(&display);
    element.set_context(&context);
    let _ = element.post_message(
        gst::message::HaveContext::builder(context)
            .src(element)
            .build(),
    );
    ChosenDisplay {
        display,
        app_context,
        process_wide: true,
    }
}

/// Makes sure `element`'s pipeline has a GL display before its GL elements look for one, so that
/// they share it (see [`pipeline_display`]) instead of each making, and later terminating, their own.
pub(crate) fn share_display_with_pipeline(element: &gst::Element) {
    let _ = pipeline_display(element);
}

fn display_known_to_pipeline(element: &gst::Element) -> Option<gst_gl::GLDisplay> {
    let from_element = |e: &gst::Element| {
        e.context(gst_gl::GL_DISPLAY_CONTEXT_TYPE)
            .and_then(|c| c.gl_display())
    };
    if let Some(display) = from_element(element) {
        return Some(display);
    }
    for pad in element.pads() {
        let mut query = gst::query::Context::new(gst_gl::GL_DISPLAY_CONTEXT_TYPE);
        if pad.peer_query(&mut query)
            && let Some(display) = query.context().and_then(|c| c.gl_display())
        {
            return Some(display);
        }
    }
    // A bin that cached a display answers by setting it on the element, synchronously.
    let _ = element.post_message(
        gst::message::NeedContext::builder(gst_gl::GL_DISPLAY_CONTEXT_TYPE)
            .src(element)
            .build(),
    );
    from_element(element)
}

/// One GL display for every pipeline this plugin gives one to, alive for the whole process (see
/// [`pipeline_display`] for why), and marked so that leak tracers do not report it.
static PROCESS_DISPLAY: std::sync::OnceLock<gst_gl::GLDisplay> = std::sync::OnceLock::new();

fn process_display() -> gst_gl::GLDisplay {
    PROCESS_DISPLAY
        .get_or_init(|| {
            let display = gst_gl::GLDisplay::new();
            display.set_object_flags(gst::ObjectFlags::MAY_BE_LEAKED);
            display
        })
        .clone()
}

/// The EGL wrapper GStreamer caches on a non-EGL display (egl-device) lives as long as it: mark
/// it too.
fn mark_egl_wrapper_as_process_lifetime(display: &gst_gl::GLDisplay) {
    if let Some(egl) = gst_gl_egl::GLDisplayEGL::from_gl_display(display) {
        egl.set_object_flags(gst::ObjectFlags::MAY_BE_LEAKED);
    }
}

/// Which GL display a test runs on, as far as CUDA can tell them apart: the display type and
/// its native handle (for `egl-device` the `EGLDeviceEXT`, for EGL the `EGLDisplay`). Two
/// pipelines on the same device share a key; a display on another GPU gets its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct DisplayKey {
    pub(crate) kind: String,
    pub(crate) handle: usize,
}

impl std::fmt::Display for DisplayKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:#x}", self.kind, self.handle)
    }
}

/// The GL display a test for `element` runs on (see [`pipeline_display`]), ready for
/// [`run_on_display`]; without `element` (e.g. `strom-doctor`), a display of its own.
pub(crate) struct TestDisplay {
    chosen: ChosenDisplay,
    kind: String,
}

impl TestDisplay {
    pub(crate) fn key(&self) -> DisplayKey {
        DisplayKey {
            kind: self.kind.clone(),
            handle: self.chosen.display.handle(),
        }
    }
}

/// Picks the display as [`run_in_gl_thread`] would, without making a context yet.
pub(crate) fn test_display(element: Option<&gst::Element>) -> Result<TestDisplay, String> {
    gst::init().map_err(|err| format!("GStreamer could not initialise: {err}"))?;
    let chosen = match element {
        Some(element) => pipeline_display(element),
        None => ChosenDisplay {
            display: gst_gl::GLDisplay::new(),
            app_context: None,
            process_wide: false,
        },
    };
    // When the requested window system cannot open (no X server, no Wayland socket), GStreamer
    // returns the generic display; making a context on it crashes GStreamer 1.22's GL thread.
    if chosen.display.type_() == gst_gl::GLDisplay::static_type() {
        return Err(format!(
            "no GL display could be opened (GST_GL_WINDOW={}, GST_GL_PLATFORM={})",
            std::env::var("GST_GL_WINDOW").unwrap_or_else(|_| "unset".into()),
            std::env::var("GST_GL_PLATFORM").unwrap_or_else(|_| "unset".into())
        ));
    }
    let kind = display_type_name(&chosen.display);
    Ok(TestDisplay { chosen, kind })
}

/// Makes a GL context through GStreamer, runs `work` in its GL thread, and releases the context.
/// With `element`, the display is the one its pipeline shares (see [`pipeline_display`]);
/// without (e.g. `strom-doctor`), a display of its own.
pub(crate) fn run_in_gl_thread<R: Send>(
    element: Option<&gst::Element>,
    work: impl FnOnce(&GlFunctions) -> R + Send,
) -> Result<(GlInfo, R), String> {
    run_on_display(&test_display(element)?, work)
}

/// [`run_in_gl_thread`] on a display picked already.
pub(crate) fn run_on_display<R: Send>(
    test_display: &TestDisplay,
    work: impl FnOnce(&GlFunctions) -> R + Send,
) -> Result<(GlInfo, R), String> {
    let ChosenDisplay {
        display,
        app_context,
        process_wide,
    } = &test_display.chosen;
    let display_type = test_display.kind.clone();
    // gst_gl_display_create_context (as glbasefilter uses it) reports an error where
    // gst_gl_context_new would return NULL for a display no GL platform matches.
    let context = {
        let locked = display.object_lock();
        gst_gl::GLDisplay::create_context(&locked, app_context.as_ref())
    }
    .map_err(|err| format!("no GL context on display '{display_type}': {err}"))?;

    let mut outcome: Option<Result<(GlInfo, R), String>> = None;
    context.thread_add(|context| {
        let result = GlFunctions::resolve(context).map(|gl| {
            let info = GlInfo {
                vendor: gl.string(GL_VENDOR),
                renderer: gl.string(GL_RENDERER),
                version: gl.string(GL_VERSION),
                display: display_type.clone(),
            };
            (info, work(&gl))
        });
        outcome = Some(result);
    });
    if *process_wide {
        mark_egl_wrapper_as_process_lifetime(display);
    }
    drop(context);
    outcome.unwrap_or_else(|| Err("the GL thread did not run".into()))
}

/// Whether a GL context can be made in this process, checked once (a few tens of ms with Mesa)
/// on `element`'s pipeline display (None: a display of its own, for tools).
pub(crate) fn context_check_cached(
    element: Option<&gst::Element>,
) -> &'static Result<GlInfo, String> {
    static CHECK: std::sync::OnceLock<Result<GlInfo, String>> = std::sync::OnceLock::new();
    CHECK.get_or_init(|| run_in_gl_thread(element, |_| ()).map(|(info, ())| info))
}

fn display_type_name(display: &gst_gl::GLDisplay) -> String {
    let handle_type = display.handle_type();
    let names = [
        (gst_gl::GLDisplayType::EGL_DEVICE, "egl-device"),
        (gst_gl::GLDisplayType::EGL, "egl"),
        (gst_gl::GLDisplayType::X11, "x11"),
        (gst_gl::GLDisplayType::WAYLAND, "wayland"),
        (gst_gl::GLDisplayType::GBM, "gbm"),
    ];
    names
        .iter()
        .find(|(t, _)| handle_type.contains(*t))
        .map_or_else(|| format!("{handle_type:?}"), |(_, n)| (*n).to_owned())
}

/// GStreamer GL elements this project links, with the package that provides them on Debian.
pub(crate) const GL_ELEMENTS: &[&str] = &["glupload", "glcolorconvert", "gldownload"];
pub(crate) const GL_PACKAGE_FIX: &str = "apt-get install gstreamer1.0-gl";
pub(crate) const GL_HEADLESS_FIX: &str = "GST_GL_WINDOW=egl-device GST_GL_PLATFORM=egl";

/// The GL elements that are not registered.
pub(crate) fn missing_gl_elements() -> Vec<&'static str> {
    GL_ELEMENTS
        .iter()
        .copied()
        .filter(|name| gst::ElementFactory::find(name).is_none())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mesa_and_software_renderers_are_recognised() {
        assert!(is_mesa_or_software(
            "Mesa/X.org",
            "llvmpipe (LLVM 15.0.6, 256 bits)"
        ));
        assert!(is_mesa_or_software("Intel", "Mesa Intel(R) UHD Graphics"));
        assert!(!is_mesa_or_software(
            "NVIDIA Corporation",
            "NVIDIA H100 PCIe/PCIe/SSE2"
        ));
    }

    #[test]
    fn cpu_rasterisers_are_told_from_gpus() {
        assert!(is_cpu_rasteriser(&llvmpipe_for_tests().renderer));
        assert!(is_cpu_rasteriser("softpipe"));
        assert!(is_cpu_rasteriser("Software Rasterizer"));
        assert!(!is_cpu_rasteriser(
            "Mesa Intel(R) UHD Graphics 630 (CFL GT2)"
        ));
        assert!(!is_cpu_rasteriser("NVIDIA H100 PCIe/PCIe/SSE2"));
    }

    #[test]
    fn short_names_read_well_in_statuses() {
        let info = |vendor: &str, renderer: &str| GlInfo {
            vendor: vendor.into(),
            renderer: renderer.into(),
            version: String::new(),
            display: "egl-device".into(),
        };
        assert_eq!(
            info("Mesa/X.org", "llvmpipe (LLVM 15.0.6, 256 bits)").short_name(),
            "Mesa llvmpipe"
        );
        assert_eq!(info("Intel", "Mesa Intel(R) UHD").short_name(), "Intel");
        assert_eq!(info("Mesa", "AMD Radeon").short_name(), "Mesa");
    }
}
