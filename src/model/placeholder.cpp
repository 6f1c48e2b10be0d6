// Placeholder so the model library is never empty; removed once it has sources.
namespace talkie::model {
void Placeholder() {}
}
