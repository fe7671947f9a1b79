// SPDX-License-Identifier: MPL-2.0
/* Test-only GStreamer plugin `stromtest` with one element, `stromtestconsumer`: a stand-in for an
 * encoder like nvh264enc, built and loaded by the tests only (never installed). It takes
 * video/x-raw NV12 in GL memory and in system memory, has nvcodec's read-only-looking
 * `cuda-device-id` (writable here, so tests can place it on a device), and with `refuse-gl` answers
 * every GL buffer with GST_FLOW_ERROR without posting anything, as nvenc 1.22 does when it cannot
 * register a GL frame with CUDA ("could not register resource"). Buffers it accepts go on to its
 * src pad unchanged. It is NOT evidence of what a real encoder does. */
#include <gst/gst.h>

#define PACKAGE "gst-strom-tests"
#define VERSION "1.0"

#define CONSUMER_CAPS \
    "video/x-raw(memory:GLMemory), format=NV12; video/x-raw, format=NV12"

typedef struct {
    GstElement parent;
    GstPad *sinkpad, *srcpad;
    guint cuda_device_id;
    gboolean refuse_gl;
    gboolean gl_caps;
    guint refused, accepted_gl, accepted_system;
} StromTestConsumer;

typedef struct {
    GstElementClass parent_class;
} StromTestConsumerClass;

enum { PROP_0, PROP_CUDA_DEVICE_ID, PROP_REFUSE_GL, PROP_REFUSED, PROP_ACCEPTED_GL,
    PROP_ACCEPTED_SYSTEM };

static GType strom_test_consumer_get_type (void);
G_DEFINE_TYPE (StromTestConsumer, strom_test_consumer, GST_TYPE_ELEMENT);
#define CONSUMER(obj) ((StromTestConsumer *) (obj))

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK,
    GST_PAD_ALWAYS, GST_STATIC_CAPS (CONSUMER_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC,
    GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

static GstFlowReturn
consumer_chain (GstPad * pad, GstObject * parent, GstBuffer * buffer)
{
  StromTestConsumer *self = CONSUMER (parent);
  gboolean gl;

  GST_OBJECT_LOCK (self);
  gl = self->gl_caps;
  if (gl && self->refuse_gl) {
    self->refused++;
    GST_OBJECT_UNLOCK (self);
    gst_buffer_unref (buffer);
    return GST_FLOW_ERROR;
  }
  if (gl)
    self->accepted_gl++;
  else
    self->accepted_system++;
  GST_OBJECT_UNLOCK (self);
  return gst_pad_push (self->srcpad, buffer);
}

static gboolean
consumer_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  StromTestConsumer *self = CONSUMER (parent);

  if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
    GstCaps *caps;
    GstCapsFeatures *features;

    gst_event_parse_caps (event, &caps);
    features = gst_caps_get_features (caps, 0);
    GST_OBJECT_LOCK (self);
    self->gl_caps = features && gst_caps_features_contains (features, "memory:GLMemory");
    GST_OBJECT_UNLOCK (self);
  }
  return gst_pad_event_default (pad, parent, event);
}

static gboolean
consumer_sink_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  if (GST_QUERY_TYPE (query) == GST_QUERY_CAPS) {
    GstCaps *filter, *templ = gst_pad_get_pad_template_caps (pad), *result;

    gst_query_parse_caps (query, &filter);
    result = filter ? gst_caps_intersect_full (filter, templ, GST_CAPS_INTERSECT_FIRST)
        : gst_caps_ref (templ);
    gst_query_set_caps_result (query, result);
    gst_caps_unref (result);
    gst_caps_unref (templ);
    return TRUE;
  }
  return gst_pad_query_default (pad, parent, query);
}

static void
consumer_set_property (GObject * object, guint id, const GValue * value, GParamSpec * pspec)
{
  StromTestConsumer *self = CONSUMER (object);

  GST_OBJECT_LOCK (self);
  switch (id) {
    case PROP_CUDA_DEVICE_ID:
      self->cuda_device_id = g_value_get_uint (value);
      break;
    case PROP_REFUSE_GL:
      self->refuse_gl = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
  GST_OBJECT_UNLOCK (self);
}

static void
consumer_get_property (GObject * object, guint id, GValue * value, GParamSpec * pspec)
{
  StromTestConsumer *self = CONSUMER (object);

  GST_OBJECT_LOCK (self);
  switch (id) {
    case PROP_CUDA_DEVICE_ID:
      g_value_set_uint (value, self->cuda_device_id);
      break;
    case PROP_REFUSE_GL:
      g_value_set_boolean (value, self->refuse_gl);
      break;
    case PROP_REFUSED:
      g_value_set_uint (value, self->refused);
      break;
    case PROP_ACCEPTED_GL:
      g_value_set_uint (value, self->accepted_gl);
      break;
    case PROP_ACCEPTED_SYSTEM:
      g_value_set_uint (value, self->accepted_system);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
  GST_OBJECT_UNLOCK (self);
}

static void
strom_test_consumer_class_init (StromTestConsumerClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  gobject_class->set_property = consumer_set_property;
  gobject_class->get_property = consumer_get_property;
  g_object_class_install_property (gobject_class, PROP_CUDA_DEVICE_ID,
      g_param_spec_uint ("cuda-device-id", "CUDA device ID",
          "The CUDA device it reads frames on (as nvcodec's encoders have)", 0, G_MAXUINT, 0, rw));
  g_object_class_install_property (gobject_class, PROP_REFUSE_GL,
      g_param_spec_boolean ("refuse-gl", "Refuse GL",
          "Answer every GL memory buffer with GST_FLOW_ERROR, posting nothing", TRUE, rw));
  g_object_class_install_property (gobject_class, PROP_REFUSED,
      g_param_spec_uint ("refused", "Refused", "GL buffers refused", 0, G_MAXUINT, 0, ro));
  g_object_class_install_property (gobject_class, PROP_ACCEPTED_GL,
      g_param_spec_uint ("accepted-gl", "Accepted GL", "GL buffers passed on", 0, G_MAXUINT, 0,
          ro));
  g_object_class_install_property (gobject_class, PROP_ACCEPTED_SYSTEM,
      g_param_spec_uint ("accepted-system", "Accepted system",
          "System-memory buffers passed on", 0, G_MAXUINT, 0, ro));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Strom test consumer (test only)",
      "Codec/Encoder/Video", "Stands in for an encoder that takes GL and system memory",
      "gst-strom developers");
}

static void
strom_test_consumer_init (StromTestConsumer * self)
{
  self->refuse_gl = TRUE;
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, consumer_chain);
  gst_pad_set_event_function (self->sinkpad, consumer_sink_event);
  gst_pad_set_query_function (self->sinkpad, consumer_sink_query);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);
  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);
}

static gboolean
plugin_init (GstPlugin * plugin)
{
  return gst_element_register (plugin, "stromtestconsumer", GST_RANK_NONE,
      strom_test_consumer_get_type ());
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, stromtest,
    "gst-strom test-only elements", plugin_init, VERSION, "MPL", PACKAGE,
    "https://github.com/strom/gst-strom")
